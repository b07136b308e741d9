import Foundation
import Hummingbird

/// A decoded `application/x-www-form-urlencoded` body or query string. Keeps repeated fields
/// (checkbox groups) in order.
struct FormData: Sendable {
    private(set) var fields: [(name: String, value: String)] = []

    init(encoded: String) {
        for pair in encoded.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            fields.append((name, value))
        }
    }

    /// The first value of `name`, trimmed; `nil` when absent or empty.
    subscript(_ name: String) -> String? {
        guard let value = fields.first(where: { $0.name == name })?.value else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// Every value of `name`.
    func all(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// Reads a form body (at most 64 KiB).
    static func read(_ request: Request) async throws -> FormData {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 * 1024)
        return FormData(encoded: String(buffer: buffer))
    }

    /// The query string of `request`.
    static func query(_ request: Request) -> FormData {
        FormData(encoded: request.uri.query ?? "")
    }
}
