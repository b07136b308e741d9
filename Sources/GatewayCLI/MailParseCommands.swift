import ArgumentParser
import Foundation
import MailMessage

/// `mail parse DIR_OR_FILES...`: parses each message and prints `{"chars":N,"file":"name"}` per line,
/// where `chars` is the number of characters of the decoded body (text/plain, else text/html).
struct MailParseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Parse messages and print one JSON line per message: {\"chars\",\"file\"}."
    )

    @Argument(help: "Message files, or folders whose *.eml files are read.")
    var paths: [String]

    @Option(help: "Worker threads (0 = one per core). One thread is fastest on a shared machine.")
    var jobs: Int = 1

    func run() throws {
        let ok = MailBatch.run(paths: paths, jobs: jobs) { file, bytes in
            let message = try MailMessage(parsing: bytes)
            let chars = message.bodyText()?.scalarCount ?? 0
            return MailJSONLine.object([("chars", .int(chars)), ("file", .string(file))])
        }
        if !ok { throw ExitCode(1) }
    }
}

/// `mail extract DIR_OR_FILES...`: prints `{"command","comment","file","reply"}` per message, the
/// benchmark interface plus the extracted reply text.
struct MailExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract the reply and command of each message: {\"command\",\"comment\",\"file\",\"reply\"}."
    )

    @Argument(help: "Message files, or folders whose *.eml files are read.")
    var paths: [String]

    @Option(help: "Worker threads (0 = one per core). One thread is fastest on a shared machine.")
    var jobs: Int = 1

    func run() throws {
        let ok = MailBatch.run(paths: paths, jobs: jobs) { file, bytes in
            let message = try MailMessage(parsing: bytes)
            let d = ReplyDecision(message: message)
            return MailJSONLine.object([
                ("command", .string(d.command.rawValue)),
                ("comment", d.comment.map { .string($0) } ?? .null),
                ("file", .string(file)),
                ("reply", .string(d.replyText)),
            ])
        }
        if !ok { throw ExitCode(1) }
    }
}

/// `mail inspect FILE`: shows a person the structure, decoded body, reply text and decision.
struct MailInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a message's structure, decoded body, reply text and decision."
    )

    @Argument(help: "A message file.")
    var file: String

    @Flag(help: "Print the whole decoded body instead of the first 60 lines.")
    var fullBody = false

    func run() throws {
        let bytes: [UInt8]
        do {
            bytes = try MailBatch.readFile(file)
        } catch {
            FileHandle.standardError.write(Data("error: \(file): \(error)\n".utf8))
            throw ExitCode(1)
        }
        let message: MailMessage
        do {
            message = try MailMessage(parsing: bytes)
        } catch {
            FileHandle.standardError.write(Data("error: \(file): \(error)\n".utf8))
            throw ExitCode(1)
        }
        var out = ""
        out += "File:        \(file) (\(bytes.count) bytes)\n"
        for name in ["From", "Sender", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To"] {
            for f in message.headers.all(named: name) {
                out += "\(name + ":")\(String(repeating: " ", count: max(1, 13 - name.count - 1)))\(f.decodedValue)\n"
            }
        }
        out += "Headers:     \(message.headers.count) fields\n"
        switch SenderVerification.authenticatedAuthor(of: message) {
        case .success(let m): out += "Author:      \(m.normalizedAddress) (single From mailbox, accepted)\n"
        case .failure(let e): out += "Author:      REJECTED: \(e)\n"
        }
        if let a = AutomatedMail.classify(message) { out += "Automated:   yes (\(a))\n" } else { out += "Automated:   no\n" }
        if !message.defects.isEmpty {
            out += "Defects:\n"
            for d in message.defects { out += "  - \(d)\n" }
        }
        out += "\nStructure:\n"
        let body = message.bodyPart()
        func describe(_ p: MIMEPart, _ indent: String) {
            var line = indent + p.contentType.mimeType
            if let cs = p.contentType.charset { line += "; charset=\(cs)" }
            if p.contentType.isMultipart {
                line += " (\(p.children.count) parts)"
            } else {
                line += ", \(p.transferEncoding.rawValue), \(p.bodyRange.count) bytes"
                if let d = p.disposition { line += ", \(d)" }
                if let f = p.filename { line += ", \"\(f)\"" }
                if p.isEmbeddedMessage { line += " [embedded message, not entered]" }
            }
            if let b = body, b.bodyRange == p.bodyRange, !p.contentType.isMultipart { line += "   <- body" }
            out += line + "\n"
            for c in p.children { describe(c, indent + "  ") }
        }
        describe(message.root, "  ")
        if let text = message.bodyText() {
            let plain = text.plainText()
            let lines = plain.split(separator: "\n", omittingEmptySubsequences: false)
            out += "\nBody (\(text.isHTML ? "HTML converted to text" : "text/plain"), \(text.scalarCount) characters):\n"
            for l in (fullBody ? lines[...] : lines.prefix(60)) { out += "  | \(l)\n" }
            if !fullBody && lines.count > 60 { out += "  | ... (\(lines.count - 60) more lines; --full-body shows all)\n" }
        } else {
            out += "\nBody: none (no text/plain or text/html part)\n"
        }
        let d = ReplyDecision(message: message)
        out += "\nReply text:\n"
        for l in d.replyText.split(separator: "\n", omittingEmptySubsequences: false) { out += "  | \(l)\n" }
        out += "\nDecision:    \(d.command.rawValue)"
        if let c = d.comment { out += "  comment: \(c.debugDescription)" }
        if let r = d.noCommandReason { out += "  (\(r))" }
        out += "\n"
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

/// Reads many message files, processes them on worker threads in batches, and writes the results in
/// file-name order.
fileprivate enum MailBatch {
    struct ReadError: Error, CustomStringConvertible {
        let path: String
        let errno: Int32
        var description: String { "\(path): \(String(cString: strerror(errno)))" }
    }

    /// Expands folders to their `*.eml` files; keeps files as given. Sorted by path.
    static func collect(_ paths: [String]) -> (files: [String], ok: Bool) {
        var files: [String] = []
        var ok = true
        let fm = FileManager.default
        for p in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: p, isDirectory: &isDir) else {
                FileHandle.standardError.write(Data("error: \(p): no such file or directory\n".utf8))
                ok = false
                continue
            }
            if isDir.boolValue {
                let names = (try? fm.contentsOfDirectory(atPath: p)) ?? []
                for n in names where n.hasSuffix(".eml") {
                    files.append(p.hasSuffix("/") ? p + n : p + "/" + n)
                }
            } else {
                files.append(p)
            }
        }
        files.sort()
        return (files, ok)
    }

    /// Reads a whole file with one `read` when its size is known.
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ReadError(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ReadError(path: path, errno: errno) }
        var size = Int(st.st_size)
        if size <= 0 { size = 65_536 }
        var buf = [UInt8](repeating: 0, count: size)
        var used = 0
        while true {
            if used == buf.count { buf += [UInt8](repeating: 0, count: buf.count) }
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, $0.count - used) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(path: path, errno: errno)
            }
            if n == 0 { break }
            used += n
            if used == Int(st.st_size) && st.st_size > 0 {
                // Probe for growth only if the file was not fully read in one go.
                break
            }
        }
        buf.removeSubrange(used...)
        return buf
    }

    /// Runs `body` for every file; prints its line or an error. Returns false when any file failed.
    static func run(paths: [String], jobs: Int, body: @escaping @Sendable (String, [UInt8]) throws -> String) -> Bool {
        let (files, collectedOK) = collect(paths)
        let workers = max(1, jobs > 0 ? jobs : ProcessInfo.processInfo.activeProcessorCount)
        let batch = 64 * workers
        let failed = MailFailureFlag()
        var start = 0
        let out = FileHandle.standardOutput
        while start < files.count {
            let end = min(files.count, start + batch)
            let slice = Array(files[start..<end])
            let results = MailResultSlots(count: slice.count)
            let work: @Sendable (Int) -> Void = { w in
                var k = w
                while k < slice.count {
                    let path = slice[k]
                    let name = (path as NSString).lastPathComponent
                    do {
                        let bytes = try readFile(path)
                        results.set(k, try body(name, bytes) + "\n")
                    } catch {
                        FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
                        failed.set()
                    }
                    k += workers
                }
            }
            if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
            var chunk = ""
            for r in results.values() { chunk += r }
            out.write(Data(chunk.utf8))
            start = end
        }
        return collectedOK && !failed.value
    }
}

/// Per-index result storage filled by worker threads.
fileprivate final class MailResultSlots: @unchecked Sendable {
    private var slots: [String?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ s: String) { lock.lock(); slots[i] = s; lock.unlock() }
    func values() -> [String] { lock.lock(); defer { lock.unlock() }; return slots.compactMap { $0 } }
}

/// A thread-safe boolean that only ever goes from false to true.
fileprivate final class MailFailureFlag: @unchecked Sendable {
    private var v = false
    private let lock = NSLock()
    func set() { lock.lock(); v = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return v }
}

/// A minimal JSON line writer: keys in the given (sorted) order, non-ASCII emitted as UTF-8.
fileprivate enum MailJSONLine {
    enum Value {
        case string(String)
        case int(Int)
        case null
    }

    static func object(_ pairs: [(String, Value)]) -> String {
        var s = "{"
        for (k, (key, value)) in pairs.enumerated() {
            if k > 0 { s += "," }
            s += quote(key) + ":"
            switch value {
            case .string(let v): s += quote(v)
            case .int(let v): s += String(v)
            case .null: s += "null"
            }
        }
        return s + "}"
    }

    static func quote(_ v: String) -> String {
        var out: [UInt8] = [0x22]
        out.reserveCapacity(v.utf8.count + 2)
        let hex = Array("0123456789abcdef".utf8)
        for b in v.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20, 0x7F:
                out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }
}
