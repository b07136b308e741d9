import Foundation
import CCurl

/// The result of one tagged IMAP command.
struct IMAPCommandResult {
    /// Untagged responses that arrived while the command ran.
    var untagged: [IMAPUntaggedResponse]
    /// The tagged completion.
    var completion: IMAPStatusResponse
}

/// One logged-in IMAP connection: libcurl connects, negotiates TLS (implicit or STARTTLS) and logs
/// in (`CONNECT_ONLY`); from then on this class speaks IMAP itself over `curl_easy_send` and
/// `curl_easy_recv`, which is what `BODY.PEEK[]`, literals and IDLE need.
///
/// Not `Sendable`: owned by one ``IMAPMailbox`` and used only on its queue.
final class IMAPConnection {
    let handle: CurlEasyHandle
    let configuration: IMAPConfiguration
    private var framer = IMAPResponseFramer()
    private var tagCounter = 0
    /// Untagged responses that arrived outside a command (or during one, for the IDLE consumer).
    var unsolicited: [IMAPUntaggedResponse] = []
    private(set) var capabilities: Set<String> = []
    private(set) var isBroken = false
    let openedAt: ContinuousClock.Instant

    /// `for user at imap://host:port`, used in every message.
    var place: String { "for \(configuration.username) at \(configuration.endpoint.urlString)" }

    /// Connects, negotiates TLS and logs in. Throws a specific error for a refused connection,
    /// TLS and certificate failures, and rejected credentials.
    init(configuration: IMAPConfiguration, stop: StopFlag) throws(MailTransportError) {
        self.configuration = configuration
        handle = try CurlEasyHandle(protocols: "imap,imaps", stop: stop)
        try handle.set(CURLOPT_URL, configuration.endpoint.urlString + "/")
        try handle.applyTLS(endpoint: configuration.endpoint, startTLS: configuration.startTLS,
                            caFile: configuration.caFile, verify: configuration.verifyCertificates)
        try handle.set(CURLOPT_USERNAME, configuration.username)
        try handle.set(CURLOPT_PASSWORD, configuration.password)
        try handle.set(CURLOPT_CONNECT_ONLY, 1)
        try handle.set(CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.milliseconds)
        try handle.set(CURLOPT_TIMEOUT_MS, configuration.connectTimeout.milliseconds)
        // The kernel notices a silently dead peer even while IDLE waits for minutes.
        try handle.set(CURLOPT_TCP_KEEPALIVE, 1)
        try handle.set(CURLOPT_TCP_KEEPIDLE, 60)
        try handle.set(CURLOPT_TCP_KEEPINTVL, 15)
        let rc = handle.perform()
        guard rc == CURLE_OK else {
            let serverLine = handle.serverLines.last
            var error = MailTransportError.fromCurl(rc, detail: handle.errorText(rc), replyCode: nil,
                                                    serverLine: serverLine, operation: "IMAP connection",
                                                    place: "for \(configuration.username) at \(configuration.endpoint.urlString)")
            if error.kind == .authentication {
                let text = serverLine.map(MailTransportError.stripIMAPTag) ?? "the server rejected the credentials"
                error.message = "IMAP login failed for \(configuration.username) at \(configuration.endpoint.urlString): \(text)"
                error.serverText = text
            }
            throw error
        }
        openedAt = .now
        let result = try command("CAPABILITY")
        for case .capability(let names) in result.untagged { capabilities.formUnion(names) }
    }

    /// Whether the server announced `name` (upper case), e.g. `MOVE`, `UIDPLUS`, `IDLE`.
    func has(_ name: String) -> Bool { capabilities.contains(name) }

    // MARK: Commands

    /// Sends `tag command` and reads responses until the tagged completion. A `NO` or `BAD`
    /// completion is returned, not thrown; connection failures throw and mark the connection broken.
    @discardableResult
    func command(_ text: String, timeout: Duration? = nil) throws(MailTransportError) -> IMAPCommandResult {
        let tag = nextTag()
        let deadline = ContinuousClock.now + (timeout ?? configuration.commandTimeout)
        try send("\(tag) \(text)\r\n", deadline: deadline, what: text)
        var untagged: [IMAPUntaggedResponse] = []
        while true {
            let response = try readResponse(deadline: deadline, what: text)
            switch response {
            case .tagged(let t, let status) where t == tag:
                return IMAPCommandResult(untagged: untagged, completion: status)
            case .tagged(let t, _):
                throw broken(.protocolViolation, "IMAP server answered tag \(t) while \(tag) was pending (\(Self.commandName(text)))")
            case .untagged(let u):
                if case .status(let s) = u, s.status == .bye {
                    throw broken(.connectionLost, "IMAP server closed the session \(place) during \(Self.commandName(text)): \(s.displayText)", serverText: s.displayText)
                }
                untagged.append(u)
                // New mail reported in passing is kept for the next IDLE/NOOP.
                if case .exists = u { unsolicited.append(u) }
            case .continuation:
                throw broken(.protocolViolation, "IMAP server sent an unexpected continuation during \(Self.commandName(text))")
            }
        }
    }

    /// Like ``command(_:timeout:)``, but a `NO`/`BAD` completion throws an error naming `operation`.
    @discardableResult
    func checked(_ text: String, operation: String, timeout: Duration? = nil) throws(MailTransportError) -> IMAPCommandResult {
        let result = try command(text, timeout: timeout)
        guard result.completion.status == .ok else {
            throw MailTransportError(
                kind: result.completion.code?.name == "TRYCREATE" || result.completion.code?.name == "NONEXISTENT" ? .mailboxNotFound : .serverRejected,
                message: "IMAP \(operation) failed \(place): \(result.completion.status.rawValue) \(result.completion.displayText)",
                serverText: result.completion.displayText,
                classification: result.completion.status == .bad ? .permanent : nil
            )
        }
        return result
    }

    func nextTag() -> String {
        tagCounter += 1
        return "G\(tagCounter)"
    }

    func send(_ text: String, deadline: ContinuousClock.Instant, what: String) throws(MailTransportError) {
        guard !isBroken else { throw broken(.connectionLost, "IMAP connection \(place) is closed") }
        switch handle.send(Array(text.utf8), deadline: deadline) {
        case .ok: return
        case .timedOut: throw broken(.timeout, "IMAP \(Self.commandName(what)) timed out \(place) while sending")
        case .stopped: throw broken(.cancelled, "IMAP connection \(place) was shut down")
        case .closed: throw broken(.connectionLost, "IMAP server closed the connection \(place) during \(Self.commandName(what))")
        case .failed(let rc, let detail):
            throw broken(.connectionLost, "IMAP connection \(place) broke during \(Self.commandName(what)): \(detail)", curlCode: Int(rc.rawValue))
        }
    }

    /// Reads one complete response, waiting until `deadline`.
    func readResponse(deadline: ContinuousClock.Instant, what: String) throws(MailTransportError) -> IMAPResponse {
        guard let response = try readResponseIfAny(deadline: deadline, what: what, timeoutIsError: true) else {
            throw broken(.timeout, "IMAP \(Self.commandName(what)) timed out \(place)")
        }
        return response
    }

    /// Reads one complete response; returns nil at `deadline` when `timeoutIsError` is false.
    func readResponseIfAny(deadline: ContinuousClock.Instant, what: String, timeoutIsError: Bool) throws(MailTransportError) -> IMAPResponse? {
        while true {
            let framed: [UInt8]?
            do { framed = try framer.next() } catch {
                throw broken(.protocolViolation, "IMAP server sent a \(error) \(place)")
            }
            if let framed {
                do { return try IMAPResponseParser.parse(framed) } catch {
                    throw broken(.protocolViolation, "IMAP server sent a \(error) \(place): \(Self.preview(framed))")
                }
            }
            var incoming: [UInt8] = []
            switch handle.receive(into: &incoming, deadline: deadline) {
            case .ok: framer.append(incoming)
            case .timedOut:
                if timeoutIsError { throw broken(.timeout, "IMAP \(Self.commandName(what)) timed out \(place)") }
                return nil
            case .stopped: throw broken(.cancelled, "IMAP connection \(place) was shut down")
            case .closed: throw broken(.connectionLost, "IMAP server closed the connection \(place) during \(Self.commandName(what))")
            case .failed(let rc, let detail):
                throw broken(.connectionLost, "IMAP connection \(place) broke during \(Self.commandName(what)): \(detail)", curlCode: Int(rc.rawValue))
            }
        }
    }

    /// Marks the connection unusable and builds the error to throw.
    func broken(_ kind: MailTransportError.Kind, _ message: String, serverText: String? = nil, curlCode: Int? = nil) -> MailTransportError {
        isBroken = true
        return MailTransportError(kind: kind, message: message, serverText: serverText, curlCode: curlCode)
    }

    /// Logs out politely, waiting briefly for the server's answer. Errors are ignored.
    func logout() {
        guard !isBroken else { return }
        _ = try? command("LOGOUT", timeout: .seconds(2))
        isBroken = true
    }

    /// `UID FETCH 1:* (...)` -> `UID FETCH`; keeps secrets (LOGIN arguments) out of messages.
    static func commandName(_ text: String) -> String {
        let words = text.split(separator: " ", maxSplits: 2)
        if words.first?.uppercased() == "UID", words.count > 1 { return "UID \(words[1].uppercased())" }
        return words.first.map { $0.uppercased() } ?? text
    }

    private static func preview(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(120), as: UTF8.self)
        return text.replacingOccurrences(of: "\r\n", with: "⏎")
    }
}

// MARK: - Argument encoding

enum IMAPSyntax {
    /// A quoted string for a command argument. CR, LF and NUL cannot be sent in one.
    static func quoted(_ value: String) throws(MailTransportError) -> String {
        if value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
            throw MailTransportError(kind: .configuration, message: "IMAP argument \(value.debugDescription) contains CR, LF or NUL", classification: .permanent)
        }
        var out = "\""
        for character in value {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        out.append("\"")
        return out
    }

    /// A mailbox name: modified UTF-7 (RFC 3501 §5.1.3), then quoted.
    static func mailbox(_ name: String) throws(MailTransportError) -> String {
        try quoted(ModifiedUTF7.encode(name))
    }

    /// `[1, 2, 3, 7, 9, 10]` -> `1:3,7,9:10`.
    static func uidSet(_ uids: [UInt32]) -> String {
        let sorted = Array(Set(uids)).sorted()
        var parts: [String] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count, sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(i == j ? "\(sorted[i])" : "\(sorted[i]):\(sorted[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// A flag such as `\Seen` or a keyword; must be an atom.
    static func flag(_ flag: String) throws(MailTransportError) -> String {
        let body = flag.hasPrefix("\\") ? flag.dropFirst() : Substring(flag)
        let forbidden: Set<Character> = ["(", ")", "{", " ", "%", "*", "\"", "\\", "]"]
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && !forbidden.contains($0) && !$0.isWhitespace && $0.asciiValue! > 31 && $0.asciiValue! < 127 }) else {
            throw MailTransportError(kind: .configuration, message: "IMAP flag \(flag.debugDescription) is not a valid flag or keyword", classification: .permanent)
        }
        return flag
    }
}

/// Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3).
enum ModifiedUTF7 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)

    static func encode(_ string: String) -> String {
        var out = ""
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            var bytes: [UInt8] = []
            for unit in pending { bytes.append(UInt8(unit >> 8)); bytes.append(UInt8(unit & 0xFF)) }
            out.append("&")
            var i = 0
            while i < bytes.count {
                let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
                let n = bytes.count - i
                out.append(Character(Unicode.Scalar(alphabet[Int(b0 >> 2)])))
                out.append(Character(Unicode.Scalar(alphabet[Int(((b0 & 0x03) << 4) | (b1 >> 4))])))
                if n > 1 { out.append(Character(Unicode.Scalar(alphabet[Int(((b1 & 0x0F) << 2) | (b2 >> 6))]))) }
                if n > 2 { out.append(Character(Unicode.Scalar(alphabet[Int(b2 & 0x3F)]))) }
                i += 3
            }
            out.append("-")
            pending.removeAll()
        }
        for scalar in string.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7E {
                flush()
                out.append(scalar == "&" ? "&-" : String(scalar))
            } else {
                pending.append(contentsOf: String(scalar).utf16)
            }
        }
        flush()
        return out
    }

    static func decode(_ bytes: [UInt8]) -> String {
        var out = ""
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c != UInt8(ascii: "&") {
                out.unicodeScalars.append(Unicode.Scalar(c))
                i += 1
                continue
            }
            var j = i + 1
            while j < bytes.count, bytes[j] != UInt8(ascii: "-") { j += 1 }
            if j == i + 1 {
                out.append("&")
            } else {
                var bits = 0, buffer = 0
                var units: [UInt16] = []
                var bytePair: [UInt8] = []
                for k in (i + 1)..<j {
                    guard let v = alphabet.firstIndex(of: bytes[k]) else { continue }
                    buffer = (buffer << 6) | v
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        bytePair.append(UInt8((buffer >> bits) & 0xFF))
                        if bytePair.count == 2 {
                            units.append(UInt16(bytePair[0]) << 8 | UInt16(bytePair[1]))
                            bytePair.removeAll()
                        }
                    }
                }
                out.append(String(decoding: units, as: UTF16.self))
            }
            i = j + 1
        }
        return out
    }
}
