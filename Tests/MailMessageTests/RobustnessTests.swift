import Foundation
import Testing
@testable import MailMessage

/// No crash and bounded time on hostile input. The long-running version of this is the libFuzzer
/// target (`scripts/fuzz-mime`); these are deterministic, seeded mutations that run with every test.
@Suite("Robustness")
struct RobustnessTests {
    static func exercise(_ bytes: [UInt8]) {
        if let m = try? MailMessage(parsing: bytes) {
            _ = ReplyDecision(message: m)
            _ = SenderVerification.authenticatedAuthor(of: m)
            for p in m.allParts.prefix(50) {
                _ = p.text()
                _ = p.filename
                _ = try? p.embeddedMessage()
            }
            for f in m.headers.prefix(50) { _ = f.decodedValue; _ = try? AddressParser.parseList(f.value) }
        }
        _ = HTMLToText.convert(bytes)
        _ = ReplyExtractor.extract(utf8: bytes)
    }

    @Test("seeded mutations of every fixture parse without crashing")
    func mutations() throws {
        var rng = SeededRNG(seed: 99)
        let seeds = Fixtures.names(in: "corpus").prefix(20)
        let tokens: [[UInt8]] = ["\r\n", "\n--", "=?", "?=", "<", ">", "&#", "(", "\"", "boundary=", "=\r\n", "--\r\n",
                                 "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n", "\u{FF}", "\u{0}"].map { Array($0.utf8) }
        for name in seeds {
            let original = try Fixtures.bytes("corpus", name)
            for _ in 0..<15 {
                var b = original
                for _ in 0..<Int.random(in: 1...20, using: &rng) {
                    guard !b.isEmpty else { break }
                    let at = Int.random(in: 0..<b.count, using: &rng)
                    switch Int.random(in: 0...3, using: &rng) {
                    case 0: b[at] = UInt8.random(in: 0...255, using: &rng)
                    case 1: b.insert(contentsOf: tokens.randomElement(using: &rng)!, at: at)
                    case 2: b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...200, using: &rng)))
                    default: b = Array(b[..<at])
                    }
                }
                Self.exercise(b)
            }
        }
    }

    /// Hostile patterns, each a function of a repetition count.
    static let patterns: [(String, @Sendable (Int) -> String)] = [
        ("encoded-word openers", { String(repeating: "=?", count: $0) }),
        ("encoded-word prefixes", { String(repeating: "=?utf-8?q?", count: $0) }),
        ("subject words", { "Subject: " + String(repeating: "=?a?b?", count: $0) + "\r\n\r\n" }),
        ("unterminated attributes", { String(repeating: "<a href=\"", count: $0) }),
        ("comment openers", { String(repeating: "<!--", count: $0) }),
        ("character references", { String(repeating: "&#", count: $0) }),
        ("boundaries", { "Content-Type: multipart/mixed; boundary=a\r\n\r\n" + String(repeating: "--a\r\n", count: $0) }),
        ("nested multiparts", { n in (0..<n).map { "Content-Type: multipart/mixed; boundary=b\($0)\n\n--b\($0)\n" }.joined() }),
        ("parentheses", { String(repeating: "(", count: $0) }),
        ("address comments", { "From: " + String(repeating: "(", count: $0) + "\r\n\r\n" }),
        ("header fields", { String(repeating: "X: y\r\n", count: $0) + "\r\nbody" }),
        ("folded header", { "Subject: x" + String(repeating: "\r\n y", count: $0) + "\r\n\r\nbody" }),
        ("attribution starts", { String(repeating: "On Mon wrote\n", count: $0) }),
        ("header block starts", { String(repeating: "From: a\n", count: $0) }),
        ("long line", { String(repeating: "a", count: $0 * 20) }),
        ("quotes in parameters", { "Content-Type: text/plain; " + String(repeating: "a*0*=\"", count: $0) + "\r\n\r\nx" }),
    ]

    @Test("work grows linearly with the input", arguments: patterns.map(\.0))
    func linear(pattern: String) {
        let make = Self.patterns.first { $0.0 == pattern }!.1
        func time(_ n: Int) -> Duration {
            let input = Array(make(n).utf8)
            let start = ContinuousClock.now
            Self.exercise(input)
            return ContinuousClock.now - start
        }
        _ = time(500) // warm-up
        let small = time(2_000)
        let large = time(8_000)
        // Linear work gives a ratio near 4, quadratic near 16.
        #expect(large < small * 9 + .milliseconds(30), "\(pattern): \(small) -> \(large)")
    }
}
