import Foundation
import GatewayTestSupport
import Testing
@testable import MailTransport

/// IMAP against the real lab (Dovecot on 127.0.0.1). Needs `scripts/mail-lab start`.
/// Each test owns one lab user, so the tests can run in parallel.
@Suite("IMAP mailbox (mail lab)")
struct IMAPMailboxTests {
    @Test("IMAP-3: fetching with BODY.PEEK[] returns the exact bytes and leaves \\Seen unset; RFC822.SIZE comes first")
    func fetchLeavesSeenUnset() async throws {
        try MailLab.require()
        let user = "approver41"
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        let status = try await mailbox.select()
        #expect(status.messages == 0)
        #expect(status.uidValidity > 0)
        let body = "first line\r\n{5}\r\n(parens) \"quotes\" \\ backslash\r\n"
        let uid = try await MailLab.deliver(to: user, subject: "peek", body: body, via: mailbox)
        let summary = try #require(try await mailbox.summaries(uids: [uid]).first)
        #expect(summary.uid == uid)
        #expect(!summary.isSeen)
        let raw = try #require(try await mailbox.fetchRaw(uid: uid))
        #expect(raw.count == summary.size)
        #expect(String(decoding: raw, as: UTF8.self).hasSuffix(body))
        #expect(String(decoding: raw, as: UTF8.self).contains("Delivered-To: approver41@example.test"))
        let after = try #require(try await mailbox.summaries(uids: [uid]).first)
        #expect(!after.isSeen, "fetch must not set \\Seen (flags now \(after.flags))")
        #expect(try await mailbox.searchUIDs(.unseen) == [uid])
        #expect(try await mailbox.fetchRaw(uid: uid + 1000) == nil)
        await mailbox.close()
    }

    @Test("UID STORE adds and removes flags")
    func storeFlags() async throws {
        try MailLab.require()
        let user = "approver42"
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        try await mailbox.select()
        let uid = try await MailLab.deliver(to: user, via: mailbox)
        try await mailbox.storeFlags(.add(["\\Seen", "\\Flagged", "gateway-processed"]), uids: [uid])
        var flags = try #require(try await mailbox.summaries(uids: [uid]).first).flags
        #expect(flags.contains("\\Seen") && flags.contains("\\Flagged") && flags.contains("gateway-processed"))
        #expect(try await mailbox.searchUIDs(.unseen).isEmpty)
        try await mailbox.storeFlags(.remove(["\\Flagged"]), uids: [uid])
        flags = try #require(try await mailbox.summaries(uids: [uid]).first).flags
        #expect(!flags.contains("\\Flagged") && flags.contains("\\Seen"))
        try await mailbox.storeFlags(.replace([]), uids: [uid])
        #expect(try #require(try await mailbox.summaries(uids: [uid]).first).flags.filter { $0 != "\\Recent" }.isEmpty)
        await mailbox.close()
    }

    @Test("UID MOVE to Processed, and the COPY + \\Deleted + UID EXPUNGE fallback without MOVE",
          arguments: [(Set<String>(), MoveMethod.move), (Set(["MOVE"]), .copyAndExpunge), (Set(["MOVE", "UIDPLUS"]), .copyAndFlagDeleted)])
    func move(ignored: Set<String>, expected: MoveMethod) async throws {
        try MailLab.require()
        let user = ["move": "approver43", "copyAndExpunge": "approver44", "copyAndFlagDeleted": "approver45"][expected.rawValue]!
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user, ignoredCapabilities: ignored))
        try await mailbox.select()
        let keep = try await MailLab.deliver(to: user, subject: "keep", via: mailbox)
        let moved = try await MailLab.deliver(to: user, subject: "move", via: mailbox)
        #expect(try await mailbox.move(uids: [moved], to: "Processed") == expected)
        let remaining = try await mailbox.searchUIDs(.undeleted)
        #expect(remaining == [keep])
        if expected == .copyAndFlagDeleted {
            // No UIDPLUS: the original stays, flagged \Deleted; nothing else was expunged.
            #expect(try await mailbox.searchUIDs(.all) == [keep, moved])
        } else {
            #expect(try await mailbox.searchUIDs(.all) == [keep])
        }
        #expect(try await mailbox.status("Processed").messages == 1)
        await mailbox.close()
    }

    @Test("a missing folder: SELECT names it, CREATE makes it, MOVE can create it")
    func missingFolder() async throws {
        try MailLab.require()
        let user = "approver46"
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        let folder = "Quarantäne \(UInt32.random(in: 0...UInt32.max))"
        let error = try await #require(throws: MailTransportError.self) { try await mailbox.select(folder) }
        #expect(error.kind == .mailboxNotFound)
        #expect(error.message.hasPrefix("IMAP folder '\(folder)' does not exist for approver46@example.test at imap://127.0.0.1:1143"))
        try await mailbox.select()
        let uid = try await MailLab.deliver(to: user, via: mailbox)
        let moveError = try await #require(throws: MailTransportError.self) { try await mailbox.move(uids: [uid], to: folder) }
        #expect(moveError.kind == .mailboxNotFound)
        #expect(try await mailbox.move(uids: [uid], to: folder, createIfMissing: true) == .move)
        #expect(try await mailbox.listMailboxes().contains(folder))
        #expect(try await mailbox.createMailbox(folder) == false)
        #expect(try await mailbox.status(folder).messages == 1)
        await mailbox.close()
    }

    @Test("plus-addressing lands in INBOX with the token kept in Delivered-To")
    func plusAddressing() async throws {
        try MailLab.require()
        let user = "approver47"
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        try await mailbox.select()
        let token = "tok\(UInt32.random(in: 0...UInt32.max))"
        let sender = try MailLab.relaySender()
        let (message, messageID) = MailLab.message(from: MailLab.address("requester2"), to: "\(user)+\(token)@example.test", subject: "plus", body: "x\r\n")
        // Envelope to the +token address and, in the same transaction, to another user.
        var both = message
        both.recipients = ["\(user)+\(token)@example.test", MailLab.address("approver48")]
        _ = try await sender.send(both)
        await sender.close()
        let uid = try await MailLab.waitFor(messageID: messageID, in: mailbox)
        #expect(try await mailbox.searchUIDs(.header("Delivered-To", contains: "\(user)+\(token)")) == [uid])
        await mailbox.close()
    }

    @Test("IMAPS and STARTTLS with the lab CA work; without it they fail cleanly", arguments: [
        (MailLab.imaps, StartTLSPolicy.required), (MailLab.imap, .required),
    ])
    func tls(url: String, policy: StartTLSPolicy) async throws {
        try MailLab.require()
        let good = IMAPMailbox(configuration: try MailLab.imapConfiguration("approver48", url: url, startTLS: policy))
        let info = try await good.connect()
        #expect(info.capabilities.contains("IDLE"))
        #expect(try await good.select().uidValidity > 0)
        await good.close()
        let untrusted = IMAPMailbox(configuration: try MailLab.imapConfiguration("approver48", url: url, startTLS: policy, caFile: nil))
        let error = try await #require(throws: MailTransportError.self) { try await untrusted.connect() }
        #expect(error.kind == .certificateVerification)
        #expect(error.message.contains("for approver48@example.test at \(url)"))
        #expect(error.message.contains("certificate"))
    }

    @Test("a wrong password gives the server's own words, and no password in the message")
    func wrongPassword() async throws {
        try MailLab.require()
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration("approver48", password: "not-the-password"))
        let error = try await #require(throws: MailTransportError.self) { try await mailbox.connect() }
        #expect(error.kind == .authentication)
        #expect(error.classification == .permanent)
        #expect(error.message == "IMAP login failed for approver48@example.test at imap://127.0.0.1:1143: [AUTHENTICATIONFAILED] Authentication failed.")
        #expect(await mailbox.backoffState.authenticationFailures == 1)
    }

    @Test("a refused port is a transient connection error naming the server")
    func refusedPort() async throws {
        let port = MailLab.closedPort()
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration("approver48", url: "imap://127.0.0.1:\(port)"))
        let error = try await #require(throws: MailTransportError.self) { try await mailbox.connect() }
        #expect(error.kind == .connectionRefused)
        #expect(error.isTransient)
        #expect(error.message.contains("approver48@example.test at imap://127.0.0.1:\(port)"))
    }
}

/// Tests that drop connections or empty mailboxes on purpose. Each still uses its own user, so
/// other suites are not disturbed; serialized to keep the timing assertions meaningful.
@Suite("IMAP reconnect and IDLE (mail lab)", .serialized)
struct IMAPReconnectAndIdleTests {
    @Test("IMAP-1: a UIDVALIDITY change (mailbox recreated) is reported, then accepted by a new SELECT")
    func uidValidityChange() async throws {
        try MailLab.require()
        let user = "approver30"
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        let before = try await mailbox.select()
        try await MailLab.deliver(to: user, via: mailbox)
        try MailLab.resetUser(user)  // drops the session and recreates the Maildir
        let error = try await #require(throws: MailTransportError.self) { try await mailbox.searchUIDs(.all) }
        #expect(error.kind == .connectionLost || error.kind == .uidValidityChanged)
        let changed: MailTransportError
        if error.kind == .uidValidityChanged {
            changed = error
        } else {
            changed = try await #require(throws: MailTransportError.self) { try await mailbox.searchUIDs(.all) }
        }
        #expect(changed.kind == .uidValidityChanged)
        #expect(changed.message.contains("from \(before.uidValidity) to"))
        let after = try await mailbox.select()
        #expect(after.uidValidity != before.uidValidity)
        #expect(after.messages == 0)
        #expect(try await mailbox.searchUIDs(.all).isEmpty)
        await mailbox.close()
    }

    @Test("IMAP-5: a server-side disconnect mid-session gives a specific error, and the client recovers")
    func serverDisconnect() async throws {
        try MailLab.require()
        let user = "approver31"
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        let before = try await mailbox.select()
        let uid = try await MailLab.deliver(to: user, via: mailbox)
        try MailLab.kick(user)
        let error = try await #require(throws: MailTransportError.self) { try await mailbox.searchUIDs(.all) }
        #expect(error.kind == .connectionLost)
        #expect(error.isTransient)
        #expect(error.message.contains("approver31@example.test at imap://127.0.0.1:1143"))
        #expect(await mailbox.backoffState.failures == 1)
        // The next call reconnects (after the backoff delay), re-selects INBOX and works.
        #expect(try await mailbox.searchUIDs(.all) == [uid])
        #expect(await mailbox.connectionsOpened == 2)
        #expect(try await mailbox.select().uidValidity == before.uidValidity)
        // A successful command right after reconnecting does not reset the backoff (IMAP-5) ...
        #expect(await mailbox.backoffState.failures == 1)
        // ... a completed cycle does.
        await mailbox.markHealthy()
        #expect(await mailbox.backoffState.failures == 0)
        await mailbox.close()
    }

    /// The wake-up is pushed by the server, not found by a later poll: the IDLE lasts 20 s and returns
    /// within seconds of the delivery. The bound leaves a loaded machine room (the whole suite runs in
    /// parallel); the quiet delivery-to-decision figure, about 0.5 s, is in BENCHMARKS.md ("Inbox").
    @Test("IDLE wakes on a delivery, long before its 20 s end")
    func idleWakesOnDelivery() async throws {
        try MailLab.require()
        let user = "approver32"
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        try await mailbox.select()
        let idle = Task { () throws -> ([MailboxEvent], ContinuousClock.Instant) in
            let events = try await mailbox.idle(for: .seconds(20))
            return (events, ContinuousClock.now)
        }
        try await Task.sleep(for: .milliseconds(500))  // let the IDLE start
        let sender = try MailLab.relaySender()
        let (message, _) = MailLab.message(from: MailLab.address("requester1"), to: MailLab.address(user), subject: "wake", body: "x\r\n")
        _ = try await sender.send(message)
        let accepted = ContinuousClock.now
        await sender.close()
        let (events, woke) = try await idle.value
        #expect(events.contains(.exists(1)), "events: \(events)")
        let latency = woke - accepted
        print("IDLE woke \(latency) after the server accepted the message")
        #expect(latency < .seconds(8), "IDLE woke \(latency) after the server accepted the message")
        #expect(try await mailbox.searchUIDs(.all).count == 1)
        await mailbox.close()
    }

    @Test("IDLE is re-issued at the refresh interval and returns empty when nothing happens")
    func idleRefresh() async throws {
        try MailLab.require()
        let user = "approver33"
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user, idleRefresh: .milliseconds(700)))
        try await mailbox.select()
        let start = ContinuousClock.now
        let events = try await mailbox.idle(for: .seconds(2.5))
        let elapsed = ContinuousClock.now - start
        #expect(events.isEmpty)
        // Returns at its end, not at a refresh; the upper bound leaves a loaded machine room.
        #expect(elapsed >= .seconds(2.5) && elapsed < .seconds(8))
        #expect(await mailbox.connectionsOpened == 1)
        #expect(try await mailbox.noop().isEmpty)
        await mailbox.close()
    }

    @Test("IDLE detects a dropped connection promptly, and the next call reconnects")
    func idleDetectsDeadConnection() async throws {
        try MailLab.require()
        let user = "approver34"
        try MailLab.resetUser(user)
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        try await mailbox.select()
        let idle = Task { try await mailbox.idle(for: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(500))
        let kicked = ContinuousClock.now
        try MailLab.kick(user)
        let error = try await #require(throws: MailTransportError.self) { try await idle.value }
        #expect(error.kind == .connectionLost)
        // Long before the 30 s IDLE would end (bounds loose enough for the parallel suite).
        #expect(ContinuousClock.now - kicked < .seconds(10))
        #expect(try await mailbox.select().messages == 0)
        #expect(await mailbox.connectionsOpened == 2)
        await mailbox.close()
    }

    @Test("cancelling an IDLE ends it cleanly and the connection stays usable; shutdown ends it too")
    func idleCancellationAndShutdown() async throws {
        try MailLab.require()
        let user = "approver35"
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user))
        try await mailbox.select()
        let idle = Task { try await mailbox.idle(for: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(400))
        let cancelled = ContinuousClock.now
        idle.cancel()
        let error = try await #require(throws: MailTransportError.self) { try await idle.value }
        #expect(error.kind == .cancelled)
        // Within seconds of a 60 s IDLE (the loop looks every 250 ms; the bound is for a loaded machine).
        #expect(ContinuousClock.now - cancelled < .seconds(5))
        #expect(try await mailbox.noop().isEmpty)
        #expect(await mailbox.connectionsOpened == 1)

        let second = Task { try await mailbox.idle(for: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(400))
        let stopped = ContinuousClock.now
        mailbox.shutdown()
        let stopError = try await #require(throws: MailTransportError.self) { try await second.value }
        #expect(stopError.kind == .cancelled)
        #expect(ContinuousClock.now - stopped < .seconds(5))
        let after = try await #require(throws: MailTransportError.self) { try await mailbox.noop() }
        #expect(after.kind == .cancelled)
    }

    @Test("IMAP-5: repeated drops back off exponentially instead of reconnecting at once")
    func reconnectBackoffAgainstServer() async throws {
        try MailLab.require()
        let user = "approver36"
        let policy = ReconnectBackoff.Policy(initialDelay: .milliseconds(300), maximumDelay: .seconds(5), jitter: 0, healthyAfter: .seconds(300))
        let mailbox = IMAPMailbox(configuration: try MailLab.imapConfiguration(user, backoff: policy))
        try await mailbox.select()
        var waits: [Duration] = []
        for _ in 0..<3 {
            try MailLab.kick(user)
            _ = try? await mailbox.noop()  // notices the drop
            let start = ContinuousClock.now
            _ = try await mailbox.noop()  // reconnects after the backoff delay
            waits.append(ContinuousClock.now - start)
        }
        #expect(waits[0] >= .milliseconds(300))
        #expect(waits[1] >= .milliseconds(600))
        #expect(waits[2] >= .milliseconds(1200))
        #expect(await mailbox.connectionAttempts == 4)
        await mailbox.close()
    }
}
