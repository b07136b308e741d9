import Foundation

/// The fields of a provider's discovery document (`ISSUER/.well-known/openid-configuration`,
/// OpenID Connect Discovery 1.0) that the gateway uses.
public struct ProviderMetadata: Codable, Sendable, Hashable {
    public var issuer: String
    public var authorizationEndpoint: String
    public var tokenEndpoint: String
    public var jwksURI: String
    public var endSessionEndpoint: String?
    public var idTokenSigningAlgValuesSupported: [String]?
    public var tokenEndpointAuthMethodsSupported: [String]?
    public var codeChallengeMethodsSupported: [String]?

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizationEndpoint = "authorization_endpoint"
        case tokenEndpoint = "token_endpoint"
        case jwksURI = "jwks_uri"
        case endSessionEndpoint = "end_session_endpoint"
        case idTokenSigningAlgValuesSupported = "id_token_signing_alg_values_supported"
        case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
        case codeChallengeMethodsSupported = "code_challenge_methods_supported"
    }

    /// The document's address for `issuer` (a trailing slash is not doubled).
    public static func discoveryURL(issuer: String) -> String {
        (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + "/.well-known/openid-configuration"
    }

    /// Checks what discovery requires: the document names the issuer it was fetched for (section
    /// 4.3), and every endpoint is HTTPS, or HTTP on a loopback address.
    public func validate(expectedIssuer: String) throws(IdentityProviderErrorDescription) {
        guard Self.sameIssuer(issuer, expectedIssuer) else {
            throw IdentityProviderErrorDescription("the discovery document names the issuer \(issuer), not the configured \(expectedIssuer)")
        }
        for (name, url) in [("authorization_endpoint", authorizationEndpoint), ("token_endpoint", tokenEndpoint), ("jwks_uri", jwksURI)] {
            guard ProviderMetadata.isAcceptableEndpoint(url) else {
                throw IdentityProviderErrorDescription("\(name) \(url) is neither HTTPS nor on a loopback address")
            }
        }
    }

    /// Whether `url` is HTTPS, or HTTP to 127.0.0.1, ::1 or localhost (a provider on this machine).
    public static func isAcceptableEndpoint(_ url: String) -> Bool {
        guard let components = URLComponents(string: url), let host = components.host?.lowercased(), !host.isEmpty else { return false }
        switch components.scheme?.lowercased() {
        case "https": return true
        case "http": return host == "127.0.0.1" || host == "::1" || host == "[::1]" || host == "localhost"
        default: return false
        }
    }

    static func sameIssuer(_ a: String, _ b: String) -> Bool {
        func trimmed(_ text: String) -> String { text.hasSuffix("/") ? String(text.dropLast()) : text }
        return trimmed(a) == trimmed(b)
    }
}

/// A problem description, thrown by pure checks and turned into an ``IdentityProviderError``.
public struct IdentityProviderErrorDescription: Error, Sendable, Hashable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
