import NIOCore
import RESP
import TernStorage

enum ConfigCommands {
    static var specs: [CommandSpec] { [] }
}
