// inbox-bench: delivery-to-decision latency and backlog throughput of the inbox processor against
// the loopback mail lab (scripts/mail-lab start with AUTH_RESULTS=1). Run by scripts/bench-inbox.
//
//   inbox-bench latency --count 100 --mode idle|poll --gateway-user approver20
//   inbox-bench backlog --count 10000 --gateway-user approver19
//
// Every reply is a real message sent over SMTP to Postfix, delivered by Dovecot, picked up over
// IMAP, verified and decided in SQLite. Prints one JSON object.
import ApprovalTokens
import Foundation
import GatewayApp
import GatewayCore
import GatewayMail
import GatewayStore
import Logging
import MailTransport

struct Options {
    var command = "latency"
    var count = 100
    var mode = "idle"
    var gatewayUser = "approver20"

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        if let first = iterator.next() { command = first }
        while let flag = iterator.next() {
            let value = iterator.next() ?? ""
            switch flag {
            case "--count": count = Int(value) ?? count
            case "--mode": mode = value
            case "--gateway-user": gatewayUser = value
            default: fatalError("unknown option \(flag)")
            }
        }
    }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func currentRSSMegabytes() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
          let pages = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

func runLabScript(_ arguments: String...) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["scripts/mail-lab"] + arguments
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { fatalError("scripts/mail-lab \(arguments) failed; run from the project directory with the lab started") }
}

/// A scratch gateway: `resources` resources and `requesters` requesters, admin reviews everything.
struct Bench {
    let store: SQLiteStore
    let service: ApprovalService
    let ring: KeyRing
    let gateway: String
    let smtp: SMTPSender
    let reviewerID: Int64

    init(gatewayUser: String, requesters: Int, resources: Int) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("inbox-bench-\(UUID().uuidString)/gateway.sqlite").path
        store = try SQLiteStore(path: path)
        var users = [User(email: "admin@example.test", name: "Ada Admin", role: .admin)]
        users += (1...requesters).map { User(email: "bench-requester\($0)@example.test", name: "Requester \($0)") }
        let resourceList = (1...resources).map { Resource(name: "bench-\($0)", approverGroups: []) }
        ring = try KeyRing(text: KeyRing.generateKeyLine(), source: "bench")
        var settings = ApprovalService.Settings()
        settings.answerLimits = AnswerLimits(perReviewerPerHour: 1_000_000, refusalsPerReviewerAndRequest: 1)
        service = ApprovalService(storage: store, keyRing: ring, settings: settings)
        _ = try await service.importDirectory(DirectorySnapshot(users: users, groups: [], resources: resourceList))
        // Admin does not want new-request emails: the benchmark is about the inbox.
        try await service.setNotificationPreferences(NotificationPreferences(newRequests: false, outcomes: false), for: "admin@example.test", by: .cli)
        gateway = gatewayUser
        smtp = SMTPSender(configuration: try SMTPConfiguration(url: "smtp://127.0.0.1:2525", startTLS: .off, ehloName: "example.test"))
        reviewerID = try await store.userID(email: "admin@example.test")!
        try runLabScript("reset-user", gatewayUser)
    }

    func processor(mode: String) throws -> (InboxProcessor, IMAPMailbox) {
        var configuration = try IMAPConfiguration(url: "imap://127.0.0.1:1143/INBOX", username: "\(gateway)@example.test", password: "secret", startTLS: .off)
        if mode == "poll" { configuration.ignoredCapabilities = ["IDLE"] }
        let mailbox = IMAPMailbox(configuration: configuration, logger: Logger(label: "bench.imap"))
        let verifier = ReplyVerifier(
            settings: ReplySettings(replyAddress: "\(gateway)+{key}@example.test", trustedAuthservID: "mail.example.test", requireAuthentication: true),
            keyRing: ring
        )
        let processor = InboxProcessor(
            mailbox: mailbox, verifier: verifier, service: service,
            policy: InboxProcessor.Policy(processedFolder: "Processed", rejectedFolder: "Rejected", pollInterval: .seconds(1), maxMessageBytes: 1_000_000),
            logger: Logger(label: "bench.inbox")
        )
        return (processor, mailbox)
    }

    func reply(to request: AccessRequest, index: Int) throws -> MailTransport.OutgoingMessage {
        let key = try ReplyKey(requestID: request.id, reviewerID: reviewerID, expiresAt: request.expiresAt).encoded(with: ring)
        let text = """
            From: Ada Admin <admin@example.test>\r
            To: <\(gateway)+\(key)@example.test>\r
            Subject: Re: [Access request #\(request.id)] bench\r
            Message-ID: <bench-\(index).\(UUID().uuidString)@example.test>\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            Approve - benchmark \(index)\r
            \r
            On Fri, 27 Nov 2026 at 16:34, Approval Gateway wrote:\r
            > Requester asks for access to \(request.resource).\r

            """
        return MailTransport.OutgoingMessage(envelopeSender: "admin@example.test", recipients: ["\(gateway)+\(key)@example.test"], data: Array(text.utf8))
    }
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .error
    return handler
}
let options = Options(CommandLine.arguments)
let clock = ContinuousClock()

switch options.command {
case "latency":
    let bench = try await Bench(gatewayUser: options.gatewayUser, requesters: 1, resources: options.count)
    var requests: [AccessRequest] = []
    for index in 1...options.count {
        requests.append(try await bench.service.openRequest(RequestDraft(requester: "bench-requester1@example.test", resource: "bench-\(index)", reason: "bench"), by: .cli))
    }
    let (processor, mailbox) = try bench.processor(mode: options.mode)
    let service = Task { try await processor.run() }
    try await Task.sleep(for: .seconds(2))
    var latencies: [Double] = []
    for (index, request) in requests.enumerated() {
        _ = try await bench.smtp.send(try bench.reply(to: request, index: index))
        let sent = clock.now
        while try await bench.store.request(id: request.id)?.state == .pending {
            guard clock.now - sent < .seconds(30) else { fatalError("request \(request.id) not decided within 30 s") }
            try await Task.sleep(for: .milliseconds(2))
        }
        latencies.append(milliseconds(clock.now - sent))
        // Let the processor go back to waiting, as between real replies.
        try await Task.sleep(for: .milliseconds(Int.random(in: 50...250)))
    }
    service.cancel()
    mailbox.shutdown()
    let result: [String: Any] = [
        "mode": options.mode, "replies": latencies.count,
        "median_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99), "max_ms": latencies.max() ?? 0,
    ]
    print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))

case "backlog":
    let side = Int(Double(options.count).squareRoot().rounded(.up))
    let bench = try await Bench(gatewayUser: options.gatewayUser, requesters: side, resources: side)
    var requests: [AccessRequest] = []
    var index = 0
    outer: for requester in 1...side {
        for resource in 1...side {
            guard index < options.count else { break outer }
            requests.append(try await bench.service.openRequest(RequestDraft(requester: "bench-requester\(requester)@example.test", resource: "bench-\(resource)", reason: "bench"), by: .cli))
            index += 1
        }
    }
    // The anchor: how fast the lab accepts these replies over SMTP (one reused connection).
    let sendStart = clock.now
    for (index, request) in requests.enumerated() {
        _ = try await bench.smtp.send(try bench.reply(to: request, index: index))
    }
    let sendSeconds = milliseconds(clock.now - sendStart) / 1000
    await bench.smtp.close()
    let (processor, mailbox) = try bench.processor(mode: "idle")
    // Wait until every reply is in the mailbox: the backlog.
    let waitStart = clock.now
    while try await mailbox.select().messages < requests.count {
        guard clock.now - waitStart < .seconds(600) else { fatalError("the backlog did not arrive") }
        try await Task.sleep(for: .milliseconds(500))
    }
    let rssBefore = currentRSSMegabytes()
    var samples: [[String: Double]] = []
    let start = clock.now
    var processed = 0
    while processed < requests.count {
        processed += try await processor.processNewMessages()
        samples.append(["processed": Double(processed), "rss_mb": currentRSSMegabytes()])
    }
    let seconds = milliseconds(clock.now - start) / 1000
    let decided = try await bench.store.requests(RequestFilter(states: [.approved], limit: 1_000_000)).count
    await mailbox.close()
    let result: [String: Any] = [
        "messages": requests.count, "decided": decided, "seconds": seconds, "messages_per_second": Double(requests.count) / seconds,
        "smtp_accepted_per_second": Double(requests.count) / sendSeconds,
        "ratio_to_smtp": (Double(requests.count) / seconds) / (Double(requests.count) / sendSeconds),
        "rss_before_mb": rssBefore, "rss_after_mb": currentRSSMegabytes(), "peak_rss_mb": peakRSSMegabytes(),
        "rss_samples": samples.enumerated().filter { $0.offset % max(1, samples.count / 10) == 0 }.map(\.element),
    ]
    print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))

case "delivery":
    // The lab's own delivery time (SMTP accepted -> file in the Maildir), to separate it from the gateway's.
    let bench = try await Bench(gatewayUser: options.gatewayUser, requesters: 1, resources: 1)
    let directory = (ProcessInfo.processInfo.environment["MAIL_LAB_DIR"] ?? "/tmp/mail-lab") + "/mail/example.test/\(options.gatewayUser)/Maildir/new"
    var latencies: [Double] = []
    for index in 1...options.count {
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        let text = "From: admin@example.test\r\nTo: \(options.gatewayUser)@example.test\r\nSubject: delivery \(index)\r\n\r\nping\r\n"
        _ = try await bench.smtp.send(MailTransport.OutgoingMessage(envelopeSender: "admin@example.test", recipients: ["\(options.gatewayUser)@example.test"], data: Array(text.utf8)))
        let sent = clock.now
        while Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).subtracting(before).isEmpty {
            guard clock.now - sent < .seconds(30) else { fatalError("message \(index) not delivered within 30 s") }
            try await Task.sleep(for: .milliseconds(1))
        }
        latencies.append(milliseconds(clock.now - sent))
        try await Task.sleep(for: .milliseconds(Int.random(in: 50...250)))
    }
    let result: [String: Any] = ["mode": "delivery", "messages": latencies.count, "median_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99)]
    print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))

default:
    fatalError("usage: inbox-bench latency|backlog [--count N] [--mode idle|poll] [--gateway-user USER]")
}
