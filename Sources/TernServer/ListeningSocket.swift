#if canImport(Glibc)
import Glibc
#endif

/// TCP listening sockets opened synchronously, as Redis's anetTcpServer does, so that start-up and CONFIG SET
/// port / bind know at once whether an address can be listened on (the event loop then adopts the socket).
enum ListeningSocket {
    /// A `bind` entry: "-" marks it optional (skipped when it can't be bound); "*" is every IPv4 address,
    /// "::*" every IPv6 one.
    struct Address: Equatable {
        var host: String
        var optional: Bool

        init(_ entry: String) {
            optional = entry.hasPrefix("-")
            host = optional ? String(entry.dropFirst()) : entry
        }
    }

    /// A listening, non-blocking socket on host:port, or the reason it can't be opened. IPv6 sockets are
    /// IPv6-only, so "* -::*" can listen on both families on one port.
    static func open(host: String, port: Int, backlog: Int32) -> Result<CInt, ListenError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var node: String? = host
        switch host {
        case "*": hints.ai_family = AF_INET; node = nil
        case "::*": hints.ai_family = AF_INET6; node = nil
        default: hints.ai_family = AF_UNSPEC
        }
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let status = node == nil ? getaddrinfo(nil, String(port), &hints, &list)
                                 : getaddrinfo(node, String(port), &hints, &list)
        if status != 0 { return .failure(ListenError(String(cString: gai_strerror(status)))) }
        defer { freeaddrinfo(list) }
        var lastError = ListenError("no address")
        var entry = list
        while let info = entry?.pointee {
            entry = info.ai_next
            let fd = socket(info.ai_family, info.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                            info.ai_protocol)
            if fd < 0 { lastError = ListenError(errno); continue }
            var yes: CInt = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<CInt>.size))
            if info.ai_family == AF_INET6 {
                _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &yes, socklen_t(MemoryLayout<CInt>.size))
            }
            if bind(fd, info.ai_addr, info.ai_addrlen) != 0 || listen(fd, backlog) != 0 {
                lastError = ListenError(errno)
                close(fd)
                continue
            }
            return .success(fd)
        }
        return .failure(lastError)
    }

    /// Opens every address of a `bind` list (all or nothing for the mandatory ones): the sockets, or the
    /// first mandatory address that failed with its reason.
    static func openAll(_ bind: [String], port: Int, backlog: Int32) -> Result<[CInt], ListenFailure> {
        var opened: [CInt] = []
        for entry in bind {
            let address = Address(entry)
            switch open(host: address.host, port: port, backlog: backlog) {
            case .success(let fd):
                opened.append(fd)
            case .failure(let error):
                if address.optional { continue }
                for fd in opened { close(fd) }
                return .failure(ListenFailure(address: address.host, port: port, reason: error.reason))
            }
        }
        return .success(opened)
    }

    struct ListenError: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
        init(_ code: Int32) { reason = String(cString: strerror(code)) }
    }

    struct ListenFailure: Error, CustomStringConvertible {
        var address: String
        var port: Int
        var reason: String
        var description: String { "Could not create server TCP listening socket \(address):\(port): \(reason)" }
    }
}
