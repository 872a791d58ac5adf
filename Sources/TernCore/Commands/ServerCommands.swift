import NIOCore
import RESP
import TernStorage

enum ServerCommands {
    static var specs: [CommandSpec] { [] }
}
