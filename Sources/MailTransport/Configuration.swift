import CCurl
import Foundation

/// Whether a plain `smtp://` or `imap://` connection is upgraded with STARTTLS.
///
/// `smtps://` and `imaps://` URLs use TLS from the first byte and ignore this setting.
public enum StartTLSPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Upgrade with STARTTLS, or fail if the server does not offer it. The default.
    case required
    /// Upgrade when the server offers STARTTLS, otherwise continue in plain text.
    case opportunistic
    /// Never upgrade: credentials and mail cross the network in plain text.
    case off
}

/// Where a server is and how to trust it; shared by ``SMTPConfiguration`` and ``IMAPConfiguration``.
public struct ServerEndpoint: Sendable, Hashable {
    /// `smtp`, `smtps`, `imap` or `imaps`.
    public var scheme: String
    /// Host name or IP address.
    public var host: String
    /// TCP port (the scheme's default when the URL has none).
    public var port: Int

    /// True for `smtps` and `imaps` (TLS from the first byte).
    public var isImplicitTLS: Bool { scheme.hasSuffix("s") }

    /// `scheme://host:port`, the form used in messages and in libcurl URLs.
    public var urlString: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)"
    }

    /// Parses `scheme://host[:port][/path]`; returns the endpoint and the decoded path (without
    /// the leading slash). Credentials in the URL are refused: they would end up in logs.
    static func parse(_ string: String, allowedSchemes: [String: Int], what: String) throws(MailTransportError) -> (ServerEndpoint, String) {
        guard let components = URLComponents(string: string),
              let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty
        else {
            throw MailTransportError(kind: .configuration, message: "\(what) URL '\(string)' is not a valid URL (expected e.g. \(allowedSchemes.keys.sorted().first!)://mail.example.com)")
        }
        guard let defaultPort = allowedSchemes[scheme] else {
            throw MailTransportError(kind: .configuration, message: "\(what) URL '\(string)' has scheme '\(scheme)'; use one of: \(allowedSchemes.keys.sorted().joined(separator: ", "))")
        }
        guard components.user == nil, components.password == nil else {
            throw MailTransportError(kind: .configuration, message: "\(what) URL must not contain a user name or password; set them in the configuration instead")
        }
        let port = components.port ?? defaultPort
        guard (1...65535).contains(port) else {
            throw MailTransportError(kind: .configuration, message: "\(what) URL '\(string)' has an invalid port \(port)")
        }
        var path = components.path
        if path.hasPrefix("/") { path.removeFirst() }
        return (ServerEndpoint(scheme: scheme, host: host, port: port), path)
    }
}

/// How to reach and authenticate to an SMTP server.
public struct SMTPConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The server: `smtp://host:port` (optionally upgraded with STARTTLS) or `smtps://host:port`.
    public var endpoint: ServerEndpoint
    /// The user name for SMTP AUTH, or nil for no AUTH.
    public var username: String?
    /// The password for SMTP AUTH. Never logged or printed.
    public var password: String?
    /// STARTTLS for `smtp://` URLs. Default: ``StartTLSPolicy/required``.
    public var startTLS: StartTLSPolicy
    /// A PEM file of CA certificates to trust instead of the system store, or nil.
    public var caFile: String?
    /// Verify the server's certificate and host name. On by default; turning it off is logged as
    /// a warning every time a connection is made.
    public var verifyCertificates: Bool
    /// The name sent with EHLO.
    public var ehloName: String
    /// Time allowed to connect (TCP and TLS).
    public var connectTimeout: Duration
    /// Time allowed for one whole message, from connecting (if needed) to the final reply.
    public var timeout: Duration

    /// Creates a configuration from a URL such as `smtp://127.0.0.1:2525` or `smtps://mail.example.com`.
    public init(
        url: String,
        username: String? = nil,
        password: String? = nil,
        startTLS: StartTLSPolicy = .required,
        caFile: String? = nil,
        verifyCertificates: Bool = true,
        ehloName: String = "localhost",
        connectTimeout: Duration = .seconds(10),
        timeout: Duration = .seconds(60)
    ) throws(MailTransportError) {
        let (endpoint, _) = try ServerEndpoint.parse(url, allowedSchemes: ["smtp": 25, "smtps": 465], what: "SMTP")
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.startTLS = startTLS
        self.caFile = caFile
        self.verifyCertificates = verifyCertificates
        self.ehloName = ehloName
        self.connectTimeout = connectTimeout
        self.timeout = timeout
    }

    /// A one-line summary without the password.
    public var description: String {
        "SMTP \(endpoint.urlString) user=\(username ?? "-") starttls=\(endpoint.isImplicitTLS ? "n/a (implicit TLS)" : startTLS.rawValue) verify=\(verifyCertificates) ca=\(caFile ?? "system")"
    }
}

/// How to reach and authenticate to an IMAP server, and how the client behaves over time.
public struct IMAPConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The server: `imap://host:port` (optionally upgraded with STARTTLS) or `imaps://host:port`.
    public var endpoint: ServerEndpoint
    /// The folder to work in, e.g. `INBOX` (taken from the URL path when given there).
    public var mailbox: String
    /// The login name.
    public var username: String
    /// The password. Never logged or printed.
    public var password: String
    /// STARTTLS for `imap://` URLs. Default: ``StartTLSPolicy/required``.
    public var startTLS: StartTLSPolicy
    /// A PEM file of CA certificates to trust instead of the system store, or nil.
    public var caFile: String?
    /// Verify the server's certificate and host name. On by default; turning it off is logged as
    /// a warning every time a connection is made (IMAP-6).
    public var verifyCertificates: Bool
    /// Time allowed to connect, negotiate TLS and log in.
    public var connectTimeout: Duration
    /// Time allowed for one command's complete response.
    public var commandTimeout: Duration
    /// How long one IDLE lasts before it is ended with DONE and re-issued; at most 29 minutes
    /// (RFC 2177). Default 10 minutes, since many servers drop idle clients sooner.
    public var idleRefresh: Duration
    /// Reconnect timing after failures (IMAP-5).
    public var backoff: ReconnectBackoff.Policy
    /// Capabilities to act as if the server lacked (upper case, e.g. `["MOVE"]`): for servers
    /// whose extension is broken, and to exercise fallbacks in tests.
    public var ignoredCapabilities: Set<String> = []

    /// Creates a configuration from a URL such as `imap://127.0.0.1:1143/INBOX` or
    /// `imaps://mail.example.com`. A path in the URL names the folder (default `INBOX`).
    public init(
        url: String,
        username: String,
        password: String,
        mailbox: String? = nil,
        startTLS: StartTLSPolicy = .required,
        caFile: String? = nil,
        verifyCertificates: Bool = true,
        connectTimeout: Duration = .seconds(10),
        commandTimeout: Duration = .seconds(60),
        idleRefresh: Duration = .seconds(600),
        backoff: ReconnectBackoff.Policy = .init()
    ) throws(MailTransportError) {
        let (endpoint, path) = try ServerEndpoint.parse(url, allowedSchemes: ["imap": 143, "imaps": 993], what: "IMAP")
        guard idleRefresh > .zero, idleRefresh <= .seconds(29 * 60) else {
            throw MailTransportError(kind: .configuration, message: "IMAP IDLE refresh must be between 0 and 29 minutes (RFC 2177), got \(idleRefresh)")
        }
        self.endpoint = endpoint
        self.mailbox = mailbox ?? (path.isEmpty ? "INBOX" : (path.removingPercentEncoding ?? path))
        self.username = username
        self.password = password
        self.startTLS = startTLS
        self.caFile = caFile
        self.verifyCertificates = verifyCertificates
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.idleRefresh = idleRefresh
        self.backoff = backoff
    }

    /// A one-line summary without the password.
    public var description: String {
        "IMAP \(endpoint.urlString)/\(mailbox) user=\(username) starttls=\(endpoint.isImplicitTLS ? "n/a (implicit TLS)" : startTLS.rawValue) verify=\(verifyCertificates) ca=\(caFile ?? "system")"
    }
}

/// Applies the TLS and timeout settings common to SMTP and IMAP handles.
extension CurlEasyHandle {
    func applyTLS(endpoint: ServerEndpoint, startTLS: StartTLSPolicy, caFile: String?, verify: Bool) throws(MailTransportError) {
        if !endpoint.isImplicitTLS {
            switch startTLS {
            case .required: try set(CURLOPT_USE_SSL, ccurl_usessl_all)
            case .opportunistic: try set(CURLOPT_USE_SSL, ccurl_usessl_try)
            case .off: try set(CURLOPT_USE_SSL, ccurl_usessl_none)
            }
        }
        if let caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw MailTransportError(kind: .configuration, message: "CA file \(caFile) does not exist or is not readable")
            }
            try set(CURLOPT_CAINFO, caFile)
        }
        try set(CURLOPT_SSL_VERIFYPEER, verify ? 1 : 0)
        try set(CURLOPT_SSL_VERIFYHOST, verify ? 2 : 0)
    }
}
