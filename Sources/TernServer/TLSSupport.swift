import NIOCore
import NIOSSL
import TernCore

/// Redis's tls-* directives as swift-nio-ssl (BoringSSL) contexts: one for the `tls-port` listener, one for
/// outgoing connections (a replica's link to its master with `tls-replication yes`).
///
/// What Redis's OpenSSL build offers and BoringSSL does not is refused rather than accepted without its effect:
/// `tls-dh-params-file` (BoringSSL has no DHE suites), `tls-ciphersuites` (BoringSSL's TLS 1.3 suites are
/// fixed), and `tls-prefer-server-ciphers yes`.
enum TLSSupport {
    struct ConfigError: Error, CustomStringConvertible {
        let description: String
    }

    /// The directives whose change rebuilds the contexts.
    static let directiveNames: Set<String> = [
        "tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file", "tls-client-key-file",
        "tls-client-key-file-pass", "tls-dh-params-file", "tls-ca-cert-file", "tls-ca-cert-dir", "tls-auth-clients",
        "tls-protocols", "tls-ciphers", "tls-ciphersuites", "tls-prefer-server-ciphers", "tls-replication",
    ]

    /// Whether TLS is configured at all (a listener or TLS replication): then the contexts must build.
    static func isEnabled(_ config: ServerConfig) -> Bool { config.tlsPort > 0 || config.tlsReplication }

    /// The listener's context (Redis's tlsConfigure, server side).
    static func serverContext(_ config: ServerConfig) throws -> NIOSSLContext {
        guard !config.tlsCertFile.isEmpty else { throw ConfigError(description: "No tls-cert-file configured!") }
        guard !config.tlsKeyFile.isEmpty else { throw ConfigError(description: "No tls-key-file configured!") }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try chain(config.tlsCertFile, "tls-cert-file"),
            privateKey: .privateKey(try key(config.tlsKeyFile, config.tlsKeyFilePass, "tls-key-file")))
        try common(&tls, config)
        switch config.tlsAuthClients {
        case "no": tls.certificateVerification = .none
        case "optional": tls.certificateVerification = .optionalVerification
        default: tls.certificateVerification = .noHostnameVerification
        }
        if tls.certificateVerification != .none {
            guard !config.tlsCaCertFile.isEmpty || !config.tlsCaCertDir.isEmpty else {
                throw ConfigError(description: "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!")
            }
            // Ask clients for certificates signed by the configured CA (OpenSSL's SSL_CTX_set_client_CA_list).
            tls.sendCANameList = true
        }
        return try makeContext(tls)
    }

    /// Outgoing connections: the client certificate (tls-client-*, falling back to tls-cert-file/key-file as
    /// Redis does), the server's certificate checked against the CA but not its host name (as Redis).
    static func clientContext(_ config: ServerConfig) throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        let certFile = config.tlsClientCertFile.isEmpty ? config.tlsCertFile : config.tlsClientCertFile
        let keyFile = config.tlsClientCertFile.isEmpty ? config.tlsKeyFile : config.tlsClientKeyFile
        let pass = config.tlsClientCertFile.isEmpty ? config.tlsKeyFilePass : config.tlsClientKeyFilePass
        if !certFile.isEmpty {
            guard !keyFile.isEmpty else { throw ConfigError(description: "No tls-client-key-file configured!") }
            tls.certificateChain = try chain(certFile, "tls-client-cert-file")
            tls.privateKey = .privateKey(try key(keyFile, pass, "tls-client-key-file"))
        }
        try common(&tls, config)
        guard !config.tlsCaCertFile.isEmpty || !config.tlsCaCertDir.isEmpty else {
            throw ConfigError(description: "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!")
        }
        tls.certificateVerification = .noHostnameVerification
        return try makeContext(tls)
    }

    /// Trust roots, protocol versions and TLS 1.2 ciphers, shared by both sides.
    private static func common(_ tls: inout TLSConfiguration, _ config: ServerConfig) throws {
        if !config.tlsDhParamsFile.isEmpty {
            throw ConfigError(description: "tls-dh-params-file is not supported: Tern's TLS library (BoringSSL) has no DHE cipher suites")
        }
        if !config.tlsCiphersuites.isEmpty {
            throw ConfigError(description: "tls-ciphersuites is not supported: Tern's TLS library (BoringSSL) does not allow configuring TLS 1.3 cipher suites")
        }
        if config.tlsPreferServerCiphers {
            throw ConfigError(description: "tls-prefer-server-ciphers yes is not supported by Tern's TLS library (BoringSSL through swift-nio-ssl)")
        }
        var roots: [NIOSSLCertificate] = []
        if !config.tlsCaCertFile.isEmpty {
            do {
                roots = try NIOSSLCertificate.fromPEMFile(config.tlsCaCertFile)
            } catch {
                throw ConfigError(description: "Failed to configure CA certificate(s) file/directory: \(config.tlsCaCertFile): \(error)")
            }
        }
        if !config.tlsCaCertDir.isEmpty {
            tls.trustRoots = .file(config.tlsCaCertDir)
            if !roots.isEmpty { tls.additionalTrustRoots = [.certificates(roots)] }
        } else if !roots.isEmpty {
            tls.trustRoots = .certificates(roots)
        }
        let (minimum, maximum) = try protocols(config.tlsProtocols)
        tls.minimumTLSVersion = minimum
        tls.maximumTLSVersion = maximum
        if !config.tlsCiphers.isEmpty { tls.cipherSuites = config.tlsCiphers }
    }

    /// Redis's tls-protocols: a space-separated subset of TLSv1 TLSv1.1 TLSv1.2 TLSv1.3 (default 1.2 and 1.3).
    /// BoringSSL takes a range, so the listed versions must be contiguous.
    static func protocols(_ text: String) throws -> (TLSVersion, TLSVersion?) {
        let order: [(String, TLSVersion)] = [("tlsv1", .tlsv1), ("tlsv1.1", .tlsv11), ("tlsv1.2", .tlsv12), ("tlsv1.3", .tlsv13)]
        let words = text.lowercased().split(separator: " ").map(String.init)
        if words.isEmpty { return (.tlsv12, .tlsv13) }
        var indexes: [Int] = []
        for w in words {
            guard let i = order.firstIndex(where: { $0.0 == w }) else {
                throw ConfigError(description: "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.")
            }
            indexes.append(i)
        }
        let lo = indexes.min()!, hi = indexes.max()!
        guard Set(indexes).count == hi - lo + 1 else {
            throw ConfigError(description: "tls-protocols must list contiguous versions (BoringSSL takes a range)")
        }
        return (order[lo].1, order[hi].1)
    }

    private static func chain(_ path: String, _ directive: String) throws -> [NIOSSLCertificateSource] {
        do {
            let certs = try NIOSSLCertificate.fromPEMFile(path)
            guard !certs.isEmpty else { throw ConfigError(description: "no certificate in the file") }
            return certs.map { .certificate($0) }
        } catch {
            throw ConfigError(description: "Failed to load certificate: \(path): \(error)")
        }
    }

    private static func key(_ path: String, _ pass: String, _ directive: String) throws -> NIOSSLPrivateKey {
        do {
            if pass.isEmpty { return try NIOSSLPrivateKey(file: path, format: .pem) }
            let bytes = Array(pass.utf8)
            return try NIOSSLPrivateKey(file: path, format: .pem) { (supply: ([UInt8]) -> Void) in supply(bytes) }
        } catch {
            throw ConfigError(description: "Failed to load private key: \(path): \(error)")
        }
    }

    private static func makeContext(_ tls: TLSConfiguration) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw ConfigError(description: "Failed to configure TLS: \(error)")
        }
    }
}
