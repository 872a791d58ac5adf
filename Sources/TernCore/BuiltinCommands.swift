/// Every built-in command, by group. Plugins register into the same table.
public enum BuiltinCommands {
    public static func all() -> [CommandSpec] {
        ConnectionCommands.specs + ClientCommands.specs + StringCommands.specs + KeyCommands.specs
            + ServerCommands.specs + CommandCommand.specs + ConfigCommands.specs + TransactionCommands.specs
            + HashCommands.specs + SetCommands.specs + SortedSetCommands.specs + ListCommands.specs
            + PubSubCommands.specs + SortCommand.specs + BlockingCommands.specs + ModuleCommands.specs
            + StreamCommands.specs
            + ACLCommands.specs
            + DebugCommands.specs + MemoryCommands.specs + LatencyCommands.specs + LolwutCommand.specs
    }

    /// A table holding every built-in command.
    public static func table() -> CommandTable { CommandTable(all()) }
}
