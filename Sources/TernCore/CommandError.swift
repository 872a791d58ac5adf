/// An error reply. `message` is the full line after '-', prefix included ("ERR ...", "WRONGTYPE ...").
public struct CommandError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// The first word: what INFO errorstats counts under.
    public var prefix: Substring { message.prefix { $0 != " " } }

    public static func err(_ text: String) -> CommandError { CommandError("ERR " + text) }

    public static let syntax = CommandError("ERR syntax error")
    public static let wrongType = CommandError("WRONGTYPE Operation against a key holding the wrong kind of value")
    public static let notInteger = CommandError("ERR value is not an integer or out of range")
    public static let notFloat = CommandError("ERR value is not a valid float")
    public static let overflow = CommandError("ERR increment or decrement would overflow")
    public static let noSuchKey = CommandError("ERR no such key")
    public static let outOfRange = CommandError("ERR index out of range")
    public static let invalidDBIndex = CommandError("ERR DB index is out of range")
    public static let noAuth = CommandError("NOAUTH Authentication required.")
    public static let invalidPassword = CommandError("WRONGPASS invalid username-password pair or user is disabled.")
    public static let readOnlyReplica = CommandError("READONLY You can't write against a read only replica.")
    public static let noReplicas = CommandError("NOREPLICAS Not enough good replicas to write.")
    public static let masterDown = CommandError("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    public static let invalidExpire = CommandError("ERR invalid expire time in 'set' command")
    public static let bitOffset = CommandError("ERR offset is out of range")
    public static let stringTooLong = CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    public static let sameObject = CommandError("ERR source and destination objects are the same")

    public static func wrongArity(_ command: String) -> CommandError {
        .err("wrong number of arguments for '\(command)' command")
    }

    public static func invalidExpireTime(_ command: String) -> CommandError {
        .err("invalid expire time in '\(command)' command")
    }
}
