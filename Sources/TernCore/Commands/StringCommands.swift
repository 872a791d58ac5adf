import NIOCore
import RESP
import TernStorage

enum StringCommands {
    static var specs: [CommandSpec] { [] }
}
