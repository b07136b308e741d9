import Foundation
import Testing
@testable import MailMessage

/// Access to the test fixtures and small helpers shared by the tests.
enum Fixtures {
    static var root: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    /// Base names (without extension) of the `.eml` files in a fixture folder, sorted.
    static func names(in folder: String) -> [String] {
        let dir = root.appendingPathComponent(folder)
        let items = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return items.filter { $0.hasSuffix(".eml") }.map { String($0.dropLast(4)) }.sorted()
    }

    static func bytes(_ folder: String, _ name: String, ext: String = "eml") throws -> [UInt8] {
        let url = root.appendingPathComponent(folder).appendingPathComponent(name + "." + ext)
        return [UInt8](try Data(contentsOf: url))
    }

    static func json(_ folder: String, _ name: String) throws -> [String: Any] {
        let data = Data(try bytes(folder, name, ext: "json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

/// A small deterministic generator (SplitMix64) for property tests.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Whitespace-collapsed form (like the grammar's `norm`), for comparisons that ignore wrapping.
func collapsed(_ s: String) -> String {
    s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
}

/// Parses a message written with LF line endings (converted to CRLF unless `bareLF`).
func parse(_ text: String, bareLF: Bool = false) throws -> MailMessage {
    let t = bareLF ? text : text.replacingOccurrences(of: "\n", with: "\r\n")
    return try MailMessage(parsing: Array(t.utf8))
}
