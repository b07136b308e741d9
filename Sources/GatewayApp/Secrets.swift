import ApprovalTokens
import Crypto
import Foundation

/// Random secrets and the digests the database keeps of them (never the secrets themselves).
public enum Secrets {
    /// Lowercase hex SHA-256 of `text`.
    public static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).lowercaseHex
    }

    /// `byteCount` random bytes, base64url without padding (43 characters for the default 32).
    public static func randomToken(byteCount: Int = 32) -> String {
        SymmetricKey(size: SymmetricKeySize(bitCount: byteCount * 8)).withUnsafeBytes { Base64URL.encode(bytes: $0) }
    }

    /// A new API key (`agk_` and 256 random bits) and the digest to store for it.
    public static func newAPIKey() -> (key: String, digest: String) {
        let key = "agk_" + randomToken()
        return (key, sha256Hex(key))
    }
}
