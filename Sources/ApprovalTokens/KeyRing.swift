import Crypto
import Foundation

/// One HMAC key with its id.
public struct SigningKey: Sendable {
    /// A short name (`[A-Za-z0-9_-]`, at most 32 characters) carried in every token it signs.
    public let id: String
    let secret: SymmetricKey

    /// The smallest secret accepted, in bytes.
    public static let minimumSecretBytes = 32

    /// Creates a key from raw secret bytes.
    /// - Throws: ``KeyRingError`` when the id or the secret length is not acceptable.
    public init(id: String, secret: [UInt8]) throws(KeyRingError) {
        guard Self.isValidID(id) else { throw KeyRingError("key id \"\(id)\" must be 1 to 32 letters, digits, '-' or '_'") }
        guard secret.count >= Self.minimumSecretBytes else {
            throw KeyRingError("key \(id) has \(secret.count) bytes; at least \(Self.minimumSecretBytes) random bytes are required")
        }
        self.id = id
        self.secret = SymmetricKey(data: secret)
    }

    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 32 && id.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }
}

/// A problem with signing keys, naming the line or key at fault (never the secret).
public struct KeyRingError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The keys the gateway signs and verifies with.
///
/// The first key signs; every listed key verifies, so a key is rotated by putting a new one first
/// and retired by removing it. The text form is one key per line, `KID:BASE64SECRET`; blank lines
/// and lines starting with `#` are ignored.
public struct KeyRing: Sendable {
    /// The keys, the signing key first.
    public let keys: [SigningKey]

    /// The key that signs new tokens.
    public var signingKey: SigningKey { keys[0] }

    public init(keys: [SigningKey]) throws(KeyRingError) {
        guard !keys.isEmpty else { throw KeyRingError("no signing key is configured") }
        var seen: Set<String> = []
        for key in keys where !seen.insert(key.id).inserted {
            throw KeyRingError("key id \(key.id) appears twice")
        }
        self.keys = keys
    }

    /// Parses the text form; `source` names the file or variable in errors.
    public init(text: String, source: String) throws(KeyRingError) {
        var keys: [SigningKey] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let secret = Data(base64Encoded: String(parts[1])) else {
                throw KeyRingError("\(source) line \(index + 1): expected KID:BASE64SECRET")
            }
            do {
                keys.append(try SigningKey(id: String(parts[0]), secret: [UInt8](secret)))
            } catch {
                throw KeyRingError("\(source) line \(index + 1): \(error.message)")
            }
        }
        do {
            try self.init(keys: keys)
        } catch {
            throw KeyRingError("\(source): \(error.message)")
        }
    }

    /// Finds the verifying key with `id`.
    func key(id: Substring) -> SigningKey? { keys.first { $0.id == id } }

    /// A new key line, `KID:BASE64SECRET`, with a 32-byte random secret and a dated, random id.
    public static func generateKeyLine(now: Date = Date()) -> String {
        let day = now.formatted(.iso8601.year().month().day().dateSeparator(.omitted))
        let suffix = SymmetricKey(size: .bits128).withUnsafeBytes { Array($0.prefix(3)) }.map { String(format: "%02x", $0) }.joined()
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
        return "k\(day)\(suffix):\(secret)"
    }
}
