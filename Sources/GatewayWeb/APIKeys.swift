import Foundation

/// Bearer keys of the JSON API: `agk_` and 256 random bits, base64url. Only the SHA-256 of a key is stored.
public enum APIKeys {
    /// A new key and the digest to store for it.
    public static func generate() -> (key: String, digest: String) {
        let key = "agk_" + WebCrypto.randomToken()
        return (key, digest(of: key))
    }

    /// The stored form of `key`: lowercase hex SHA-256.
    public static func digest(of key: String) -> String { WebCrypto.sha256Hex(key) }
}
