import Foundation
import GatewayApp
import GatewayCore

/// A web setting that cannot be used, naming the key.
public struct WebConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How the web server runs: where it listens, the URL it links to, where its templates are. (The
/// lifetimes and limits of sessions and sign-in links are the approval service's: ``ApprovalService/Settings``.)
public struct WebSettings: Sendable {
    /// The host to bind (`127.0.0.1`).
    public var host: String
    /// The port to bind; `0` picks a free one.
    public var port: Int
    /// The URL the gateway's links point to, without a trailing slash.
    public var publicURL: String
    /// A `templates` folder overriding the built-in pages (its `web` folder); `nil` for the built-in ones.
    public var templatesDirectory: String?
    /// Reverse proxies whose `X-Forwarded-For` names the client (`http.trusted_proxies`).
    public var trustedProxies: [IPAddressRange] = []
    /// Rows per page of the request lists.
    public var pageSize = 50
    /// Whether the sign-in page offers emailed sign-in links (`auth.email_links`).
    public var emailLinks = true
    /// The organisation's identity provider (`auth.oidc`), offered as "Sign in with …".
    public var identityProvider: (any IdentityProvider)?

    /// - Parameters:
    ///   - listen: `host:port` (`http.listen`).
    ///   - publicURL: `http.public_url`.
    ///   - templatesDirectory: a `templates` folder overriding the built-in pages, if any.
    /// - Throws: ``WebConfigurationError`` when `listen` is not `host:port`.
    public init(listen: String, publicURL: String, templatesDirectory: String? = nil) throws(WebConfigurationError) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
            throw WebConfigurationError("http.listen: expected host:port, got \"\(listen)\"")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.templatesDirectory = templatesDirectory
    }

    /// Whether cookies are marked `Secure` (the public URL is https).
    var secureCookies: Bool { publicURL.lowercased().hasPrefix("https://") }
}
