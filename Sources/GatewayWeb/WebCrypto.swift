import ApprovalTokens
import Crypto
import Foundation

/// The installation's web secret, keyed once for HMAC-SHA256: the key of CSRF form tokens and of
/// the sign-in attempt cookie.
///
/// HMAC hashes its key into an inner and an outer state before it reads a message. A page with
/// fifty decision forms signs fifty tokens, so the keyed states are computed once, when the server
/// starts, and each tag starts from a copy of them.
struct WebKey: Sendable {
    private let keyed: HMAC<SHA256>

    init(secret: [UInt8]) {
        keyed = HMAC<SHA256>(key: SymmetricKey(data: secret))
    }

    /// The authentication code of `message`.
    func code(_ message: String) -> HashedAuthenticationCode<SHA256> {
        var hmac = keyed
        var message = message
        message.withUTF8 { hmac.update(data: UnsafeRawBufferPointer($0)) }
        return hmac.finalize()
    }
}

/// The CSRF form tags and constant-time checks of the web layer (secrets and digests: ``Secrets``).
enum WebCrypto {
    static func base64URL(_ bytes: some Sequence<UInt8>) -> String { Base64URL.encode(bytes) }

    static func fromBase64URL(_ text: String) -> [UInt8]? { Base64URL.decode(text[...]) }

    /// An HMAC-SHA256 tag of `message` under `secret`, base64url.
    static func tag(_ message: String, secret: WebKey) -> String {
        secret.code(message).withUnsafeBytes { Base64URL.encode(bytes: $0) }
    }

    /// Whether `candidate` is the tag of `message`, compared in constant time (LINK-5).
    static func isValidTag(_ candidate: String, for message: String, secret: WebKey) -> Bool {
        guard let bytes = fromBase64URL(candidate), bytes.count == SHA256.byteCount else { return false }
        return secret.code(message).withUnsafeBytes { expected in
            constantTimeEquals(bytes, Array(expected))
        }
    }

    /// Constant-time equality of two byte strings of the same length.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// Constant-time equality of two strings of the same length.
    static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        constantTimeEquals(Array(lhs.utf8), Array(rhs.utf8))
    }
}
