import NIOCore
import RESP
import TernStorage

enum ClientCommands {
    static var specs: [CommandSpec] { [] }
}

extension ClientCommands {
    /// CLIENT SETNAME's rule: no spaces, newlines or other special characters.
    static func validateName(_ name: String) -> CommandError? {
        for b in name.utf8 where b < 33 || b > 126 {
            return CommandError.err("Client names cannot contain spaces, newlines or special characters.")
        }
        return nil
    }
}
