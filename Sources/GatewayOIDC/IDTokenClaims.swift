import Foundation
import GatewayApp
import JWTKit

/// The claims of an ID token, decoded leniently where providers differ (`aud` as a string or a
/// list, `email_verified` as a boolean or the string "true") and strictly where it matters
/// (`iss`, `sub`, `aud` and `exp` must be present). The checks are in ``IDTokenCheck``, against the
/// gateway's clock; ``verify(using:)`` does none, so that jwt-kit checks only the signature.
public struct IDTokenClaims: JWTPayload, Sendable, Hashable {
    public var issuer: String
    public var subject: String
    public var audience: [String]
    public var expiresAt: Date
    public var issuedAt: Date?
    public var nonce: String?
    public var authorizedParty: String?
    public var email: String?
    public var emailVerified: Bool
    public var name: String?
    /// Every other claim whose value is a string or a list of strings (the groups claim is one).
    public var stringLists: [String: [String]]

    public init(
        issuer: String, subject: String, audience: [String], expiresAt: Date, issuedAt: Date? = nil, nonce: String? = nil,
        authorizedParty: String? = nil, email: String? = nil, emailVerified: Bool = false, name: String? = nil,
        stringLists: [String: [String]] = [:]
    ) {
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.nonce = nonce
        self.authorizedParty = authorizedParty
        self.email = email
        self.emailVerified = emailVerified
        self.name = name
        self.stringLists = stringLists
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static let named: Set<String> = ["iss", "sub", "aud", "exp", "iat", "nonce", "azp", "email", "email_verified", "name"]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        issuer = try container.decode(String.self, forKey: Key("iss"))
        subject = try container.decode(String.self, forKey: Key("sub"))
        if let one = try? container.decode(String.self, forKey: Key("aud")) {
            audience = [one]
        } else {
            audience = try container.decode([String].self, forKey: Key("aud"))
        }
        expiresAt = Date(timeIntervalSince1970: try container.decode(Double.self, forKey: Key("exp")))
        issuedAt = try container.decodeIfPresent(Double.self, forKey: Key("iat")).map(Date.init(timeIntervalSince1970:))
        nonce = try container.decodeIfPresent(String.self, forKey: Key("nonce"))
        authorizedParty = try container.decodeIfPresent(String.self, forKey: Key("azp"))
        email = try container.decodeIfPresent(String.self, forKey: Key("email"))
        if let flag = try? container.decodeIfPresent(Bool.self, forKey: Key("email_verified")) {
            emailVerified = flag
        } else {
            emailVerified = (try? container.decodeIfPresent(String.self, forKey: Key("email_verified")))?.lowercased() == "true"
        }
        name = try? container.decodeIfPresent(String.self, forKey: Key("name"))
        var lists: [String: [String]] = [:]
        for key in container.allKeys where !Self.named.contains(key.stringValue) {
            if let list = try? container.decode([String].self, forKey: key) {
                lists[key.stringValue] = list
            } else if let one = try? container.decode(String.self, forKey: key) {
                lists[key.stringValue] = [one]
            }
        }
        stringLists = lists
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(issuer, forKey: Key("iss"))
        try container.encode(subject, forKey: Key("sub"))
        try container.encode(audience, forKey: Key("aud"))
        try container.encode(Int(expiresAt.timeIntervalSince1970), forKey: Key("exp"))
        try container.encodeIfPresent(issuedAt.map { Int($0.timeIntervalSince1970) }, forKey: Key("iat"))
        try container.encodeIfPresent(nonce, forKey: Key("nonce"))
        try container.encodeIfPresent(authorizedParty, forKey: Key("azp"))
        try container.encodeIfPresent(email, forKey: Key("email"))
        try container.encode(emailVerified, forKey: Key("email_verified"))
        try container.encodeIfPresent(name, forKey: Key("name"))
        for (key, list) in stringLists { try container.encode(list, forKey: Key(key)) }
    }

    /// No claim checks here: ``IDTokenCheck`` runs them with the gateway's clock and the attempt's
    /// nonce, after jwt-kit has verified the signature.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The checks of OpenID Connect Core 1.0, section 3.1.3.7, on a token whose signature is verified.
public struct IDTokenCheck: Sendable {
    public var issuer: String
    public var clientID: String
    /// Tolerated clock difference with the provider.
    public var leeway: TimeInterval = 60
    /// The claim holding the provider's groups, if group sync is configured.
    public var groupsClaim: String?

    public init(issuer: String, clientID: String, groupsClaim: String? = nil) {
        self.issuer = issuer
        self.clientID = clientID
        self.groupsClaim = groupsClaim
    }

    /// The identity in `claims`, if every check passes.
    public func identity(from claims: IDTokenClaims, nonce: String, now: Date) throws(IdentityProviderErrorDescription) -> ProviderIdentity {
        guard claims.issuer == issuer else { throw IdentityProviderErrorDescription("the ID token's issuer is \(claims.issuer), not \(issuer)") }
        guard claims.audience.contains(clientID) else {
            throw IdentityProviderErrorDescription("the ID token is for \(claims.audience.joined(separator: ", ")), not this gateway (\(clientID))")
        }
        if claims.audience.count > 1 || claims.authorizedParty != nil {
            guard claims.authorizedParty == clientID else {
                throw IdentityProviderErrorDescription("the ID token was issued to \(claims.authorizedParty ?? "another party") (azp), not this gateway")
            }
        }
        guard claims.expiresAt.addingTimeInterval(leeway) > now else {
            throw IdentityProviderErrorDescription("the ID token expired at \(RFC3339Text.string(claims.expiresAt))")
        }
        if let issued = claims.issuedAt, issued > now.addingTimeInterval(leeway) {
            throw IdentityProviderErrorDescription("the ID token was issued in the future (\(RFC3339Text.string(issued)))")
        }
        guard let tokenNonce = claims.nonce, constantTimeEqual(tokenNonce, nonce) else {
            throw IdentityProviderErrorDescription("the ID token's nonce does not match this sign-in attempt")
        }
        return ProviderIdentity(
            issuer: claims.issuer, subject: claims.subject, email: claims.email, emailVerified: claims.emailVerified,
            name: claims.name, groups: groupsClaim.flatMap { claims.stringLists[$0] }
        )
    }

    func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

enum RFC3339Text {
    static func string(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
