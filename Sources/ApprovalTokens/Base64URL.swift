import Foundation

/// Unpadded base64url (RFC 4648 section 5), strict on decoding: only the canonical encoding of a
/// byte string is accepted, so that no two token texts verify as the same token.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// `bytes` as unpadded base64url.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        if let encoded = bytes.withContiguousStorageIfAvailable({ encode(bytes: UnsafeRawBufferPointer($0)) }) { return encoded }
        return Array(bytes).withUnsafeBytes { encode(bytes: $0) }
    }

    /// `bytes` as unpadded base64url, written straight into the string's storage.
    public static func encode(bytes input: UnsafeRawBufferPointer) -> String {
        let count = input.count / 3 * 4 + [0, 2, 3][input.count % 3]
        return String(unsafeUninitializedCapacity: count) { out in
            alphabet.withUnsafeBufferPointer { alphabet in
                var index = 0, written = 0
                while index + 3 <= input.count {
                    let group = Int(input[index]) << 16 | Int(input[index + 1]) << 8 | Int(input[index + 2])
                    out[written] = alphabet[group >> 18 & 63]
                    out[written + 1] = alphabet[group >> 12 & 63]
                    out[written + 2] = alphabet[group >> 6 & 63]
                    out[written + 3] = alphabet[group & 63]
                    index += 3
                    written += 4
                }
                switch input.count - index {
                case 1:
                    let group = Int(input[index]) << 16
                    out[written] = alphabet[group >> 18 & 63]
                    out[written + 1] = alphabet[group >> 12 & 63]
                case 2:
                    let group = Int(input[index]) << 16 | Int(input[index + 1]) << 8
                    out[written] = alphabet[group >> 18 & 63]
                    out[written + 1] = alphabet[group >> 12 & 63]
                    out[written + 2] = alphabet[group >> 6 & 63]
                default:
                    break
                }
            }
            return count
        }
    }

    /// The bytes of canonical unpadded base64url `text`, or `nil` for anything else.
    public static func decode(_ text: Substring) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.allSatisfy({ isAlphabet($0) }), text.count % 4 != 1 else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        guard let data = Data(base64Encoded: standard) else { return nil }
        let bytes = [UInt8](data)
        // Unused trailing bits must be zero: re-encoding must give back the same text.
        guard encode(bytes) == text else { return nil }
        return bytes
    }

    private static func isAlphabet(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"): true
        default: false
        }
    }
}

extension Sequence<UInt8> {
    /// The bytes as lowercase hexadecimal (digests, random ids).
    public var lowercaseHex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Lowercase, unpadded base32 (RFC 4648 alphabet), for reply keys that live in an address's local
/// part: case-insensitive on input, canonical only.
enum Base32 {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer = 0, bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[(buffer >> bits) & 31])
            }
            buffer &= (1 << bits) - 1
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = 0, bits = 0
        for byte in text.lowercased().utf8 {
            guard let value = alphabet.firstIndex(of: byte) else { return nil }
            buffer = (buffer << 5) | value
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> bits) & 0xFF))
                buffer &= (1 << bits) - 1
            }
        }
        // Leftover bits must be padding zeros, and fewer than a whole character.
        guard bits < 5, buffer == 0 else { return nil }
        return out
    }
}
