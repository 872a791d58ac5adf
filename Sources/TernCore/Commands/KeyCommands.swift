import NIOCore
import RESP
import TernStorage

enum KeyCommands {
    static var specs: [CommandSpec] { [] }
}
