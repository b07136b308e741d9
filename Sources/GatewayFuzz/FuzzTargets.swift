// The fuzz targets of the parsers that read untrusted bytes (TEST-1): the Authentication-Results
// parser and its placement check, the link-token and reply-key decoders, the IMAP response framer
// and parser, and the reply grammar. (The MIME parser has its own target: scripts/fuzz-mime.)
//
// Built two ways:
// - normally (`swift build`): a replay tool, `GatewayFuzz TARGET FILE...`, that runs saved inputs
//   (crashes kept as regression fixtures) through a target once;
// - with `-sanitize=fuzzer -D FUZZING` (scripts/fuzz): a libFuzzer binary; `FUZZ_TARGET` names the
//   target.
import ApprovalTokens
import Foundation
import MailMessage
import MailTransport

/// One fuzz target: what to do with one input.
enum FuzzTarget: String, CaseIterable {
    case authResults = "auth-results"
    case tokens
    case imap
    case grammar

    /// A fixed key ring: inputs that happen to carry a valid tag are then judged past the MAC.
    static let ring = try! KeyRing(keys: [SigningKey(id: "k1", secret: Array(repeating: 7, count: 32))])

    func run(_ bytes: [UInt8]) {
        switch self {
        case .authResults:
            let text = String(decoding: bytes, as: UTF8.self)
            _ = AuthenticationResults(text)
            // The same bytes as a header block: every field, and the placement rule.
            if let message = try? MailMessage(parsing: bytes + Array("\r\n\r\n".utf8), limits: MailLimits(maxMessageBytes: 1 << 20, maxParts: 10, maxDepth: 4)) {
                _ = SenderAuthentication.evaluate(message.headers, trustedAuthservID: "mail.example.test", fromDomain: "example.test")
                _ = SenderAuthentication.receivingServerStamp(message.headers, trustedAuthservID: "mail.example.test")
            }
        case .tokens:
            let text = String(decoding: bytes, as: UTF8.self)
            let signer = TokenSigner(keyRing: Self.ring)
            for purpose in TokenPurpose.allCases {
                _ = try? signer.verify(text, purpose: purpose, now: Date(timeIntervalSince1970: 1_800_000_000))
            }
            _ = try? ReplyKey.open(text, ring: Self.ring)
            _ = try? ReplyKey.verify(text.lowercased(), ring: Self.ring, now: Date(timeIntervalSince1970: 1_800_000_000))
        case .imap:
            var framer = IMAPResponseFramer(maximumLiteral: 1 << 16, maximumLine: 1 << 16)
            // Fed in two pieces, as a socket delivers it.
            let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
            framer.append(Array(bytes[..<cut]))
            var responses = 0
            while responses < 1_000, let frame = try? framer.next() {
                _ = try? IMAPResponseParser.parse(frame)
                responses += 1
            }
            framer.append(Array(bytes[cut...]))
            while responses < 2_000, let frame = try? framer.next() {
                _ = try? IMAPResponseParser.parse(frame)
                responses += 1
            }
        case .grammar:
            _ = CommandGrammar.decide(utf8: bytes)
            _ = ReplyDecision(bodyText: String(decoding: bytes, as: UTF8.self))
        }
    }
}

#if FUZZING
let selectedTarget: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        fatalError("set FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    selectedTarget.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver (`-sanitize=fuzzer` links it in).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point under this name; it hands over to libFuzzer.
@_cdecl("GatewayFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
#else
/// Replays saved inputs: `GatewayFuzz TARGET FILE...`; exits non-zero on a bad target name.
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("usage: GatewayFuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...\n".utf8))
            exit(64)
        }
        var count = 0
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            target.run(Array(data))
            count += 1
        }
        print("\(target.rawValue): \(count) inputs replayed")
    }
}
#endif
