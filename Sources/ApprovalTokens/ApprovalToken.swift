import Crypto
import Foundation

/// What a token may be used for. Purposes are never interchangeable (LINK-5).
public enum TokenPurpose: String, Sendable, Codable, CaseIterable {
    /// Opens a request's page and signs the reviewer in on `POST`.
    case review
    /// Approve or deny from an email link, after a confirmation `POST`.
    case decide
    /// A reply to the notification email.
    case reply
    /// Sign in from an emailed link.
    case login
}

/// What a token says. Bound by the signature: changing any field invalidates the token.
public struct TokenClaims: Sendable, Hashable, Codable {
    public var purpose: TokenPurpose
    /// The request the token is about (`nil` for ``TokenPurpose/login``).
    public var requestID: Int64?
    /// The email of the person the token was issued to.
    public var subject: String
    /// `approve` or `deny` for a decide link; `nil` otherwise.
    public var action: String?
    public var issuedAt: Date
    public var expiresAt: Date
    /// 128 random bits, base64url: what makes a token single-use once recorded.
    public var nonce: String

    enum CodingKeys: String, CodingKey {
        case purpose = "p", requestID = "r", subject = "s", action = "a", issuedAt = "iat", expiresAt = "exp", nonce = "n"
    }

    public init(purpose: TokenPurpose, requestID: Int64?, subject: String, action: String? = nil, issuedAt: Date, expiresAt: Date, nonce: String? = nil) {
        self.purpose = purpose
        self.requestID = requestID
        self.subject = subject
        self.action = action
        // Whole seconds: what is signed is what is read back.
        self.issuedAt = Date(timeIntervalSince1970: issuedAt.timeIntervalSince1970.rounded(.down))
        self.expiresAt = Date(timeIntervalSince1970: expiresAt.timeIntervalSince1970.rounded(.down))
        self.nonce = nonce ?? Base64URL.encode(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(purpose, forKey: .purpose)
        try container.encodeIfPresent(requestID, forKey: .requestID)
        try container.encode(subject, forKey: .subject)
        try container.encodeIfPresent(action, forKey: .action)
        try container.encode(Int64(issuedAt.timeIntervalSince1970), forKey: .issuedAt)
        try container.encode(Int64(expiresAt.timeIntervalSince1970), forKey: .expiresAt)
        try container.encode(nonce, forKey: .nonce)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        purpose = try container.decode(TokenPurpose.self, forKey: .purpose)
        requestID = try container.decodeIfPresent(Int64.self, forKey: .requestID)
        subject = try container.decode(String.self, forKey: .subject)
        action = try container.decodeIfPresent(String.self, forKey: .action)
        issuedAt = Date(timeIntervalSince1970: TimeInterval(try container.decode(Int64.self, forKey: .issuedAt)))
        expiresAt = Date(timeIntervalSince1970: TimeInterval(try container.decode(Int64.self, forKey: .expiresAt)))
        nonce = try container.decode(String.self, forKey: .nonce)
    }

    /// A digest of the nonce for audit records and single-use bookkeeping (the nonce itself is
    /// never stored).
    public var nonceDigest: String {
        SHA256.hash(data: Data(nonce.utf8)).lowercaseHex
    }
}

/// Why a token did not verify. Callers show every case to visitors the same way (LINK-10); the
/// reason is for logs and audit records.
public struct TokenError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        case malformed, unknownKey = "unknown_key", badSignature = "bad_signature", wrongPurpose = "wrong_purpose"
        case expired, notYetValid = "not_yet_valid"
    }

    public var reason: Reason
    public init(_ reason: Reason) { self.reason = reason }
    public var description: String { "token rejected: \(reason.rawValue)" }
}

/// Signs and verifies tokens of the form `v1.<kid>.<payload>.<tag>`: base64url compact JSON claims
/// and the full HMAC-SHA256 tag over `v1.<kid>.<payload>`, compared in constant time.
public struct TokenSigner: Sendable {
    public let keyRing: KeyRing
    /// Clock skew tolerated on `iat` when verifying.
    public var allowedClockSkew: TimeInterval = 120

    static let version = "v1"

    public init(keyRing: KeyRing) {
        self.keyRing = keyRing
    }

    /// Signs `claims` with the current key.
    public func sign(_ claims: TokenClaims) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let payload = Base64URL.encode(try! encoder.encode(claims))
        let key = keyRing.signingKey
        let signed = "\(Self.version).\(key.id).\(payload)"
        let tag = HMAC<SHA256>.authenticationCode(for: Data(signed.utf8), using: key.secret)
        return signed + "." + Base64URL.encode(tag)
    }

    /// Verifies `token` for `purpose` at `now`.
    /// - Throws: ``TokenError`` for any defect: format, unknown or retired key, signature, purpose, time.
    public func verify(_ token: String, purpose: TokenPurpose, now: Date) throws(TokenError) -> TokenClaims {
        guard token.utf8.count <= 4096 else { throw TokenError(.malformed) }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Self.version else { throw TokenError(.malformed) }
        guard let key = keyRing.key(id: parts[1]) else { throw TokenError(.unknownKey) }
        guard let tag = Base64URL.decode(parts[3]), tag.count == SHA256.byteCount else { throw TokenError(.malformed) }
        let signed = token.utf8.prefix(parts[0].utf8.count + parts[1].utf8.count + parts[2].utf8.count + 2)
        guard HMAC<SHA256>.isValidAuthenticationCode(tag, authenticating: Data(signed), using: key.secret) else {
            throw TokenError(.badSignature)
        }
        guard let payload = Base64URL.decode(parts[2]),
              let claims = try? JSONDecoder().decode(TokenClaims.self, from: Data(payload)) else {
            throw TokenError(.malformed)
        }
        guard claims.purpose == purpose else { throw TokenError(.wrongPurpose) }
        guard now < claims.expiresAt else { throw TokenError(.expired) }
        guard claims.issuedAt <= now.addingTimeInterval(allowedClockSkew) else { throw TokenError(.notYetValid) }
        return claims
    }
}
