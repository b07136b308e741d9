import ApprovalTokens
import Crypto
import Foundation

/// Proof Key for Code Exchange (RFC 7636) with the `S256` method: the authorization request
/// carries the challenge, the token request the verifier, so a stolen code is useless alone.
public enum PKCE {
    /// The `code_challenge` for `verifier`: BASE64URL(SHA256(ASCII(verifier))), without padding.
    public static func challenge(for verifier: String) -> String {
        base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    static func base64URL(_ data: Data) -> String { Base64URL.encode(data) }
}
