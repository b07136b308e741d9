import Foundation
import Logging

/// An IMAP mailbox client: one connection at a time, reconnected with backoff.
///
/// An actor whose code runs on its own serial queue, never on the cooperative pool: every
/// method blocks that queue for one IMAP exchange (IDLE for as long as it waits). There is at
/// most one connection per `IMAPMailbox` (IMAP-5); the old one is logged out or closed before a
/// new one is opened.
///
/// Connections are made lazily. When a command fails because the connection broke (closed by the
/// server, timed out, or sent garbage), the error is thrown and the connection dropped; the next
/// call reconnects, first waiting out the ``ReconnectBackoff`` delay. If a folder was selected, it
/// is selected again on the new connection; if its UIDVALIDITY changed meanwhile, that call throws
/// ``MailTransportError/Kind/uidValidityChanged`` (call ``select(_:)`` again to accept the new
/// value and drop every cached UID: IMAP-1).
///
/// ```swift
/// let inbox = IMAPMailbox(configuration: try IMAPConfiguration(url: "imaps://mail.example.com/INBOX",
///                                                               username: "gateway@example.com", password: secret))
/// let status = try await inbox.select()
/// for uid in try await inbox.uidsAfter(lastUID) {
///     guard let summary = try await inbox.summaries(uids: [uid]).first, summary.size < limit else { continue }
///     let raw = try await inbox.fetchRaw(uid: uid)         // BODY.PEEK[]: \Seen stays unset
///     ... commit ...
///     try await inbox.move(uids: [uid], to: "Processed")    // only after the commit (IMAP-3)
/// }
/// let events = try await inbox.idle(for: .seconds(300))     // returns early on new mail
/// ```
public actor IMAPMailbox {
    /// The configuration this client was created with.
    public nonisolated let configuration: IMAPConfiguration
    private let logger: Logger
    private let executor: ConnectionExecutor
    private let stop = StopFlag()
    private var connection: IMAPConnection?
    private var backoff: ReconnectBackoff
    private var selected: MailboxStatus?

    /// Connection attempts made so far (successful or not).
    public private(set) var connectionAttempts = 0
    /// Connections successfully opened and logged in so far.
    public private(set) var connectionsOpened = 0

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Creates a client. Nothing connects until the first call.
    public init(configuration: IMAPConfiguration, logger: Logger = Logger(label: "approval-gateway.imap")) {
        self.configuration = configuration
        self.logger = logger
        backoff = ReconnectBackoff(policy: configuration.backoff)
        executor = ConnectionExecutor(label: "imap \(configuration.username) \(configuration.endpoint.urlString)")
    }

    // MARK: Session

    /// Connects and logs in now (otherwise the first command does), and reports the capabilities.
    @discardableResult
    public func connect() throws(MailTransportError) -> IMAPSessionInfo {
        let connection = try live()
        return IMAPSessionInfo(capabilities: connection.capabilities.sorted(),
                               server: configuration.endpoint.urlString, username: configuration.username)
    }

    /// The capabilities of the current connection (connecting if needed), upper-cased.
    public func capabilities() throws(MailTransportError) -> Set<String> {
        try live().capabilities
    }

    /// The backoff state, for monitoring: consecutive failures and the current delay bound.
    public var backoffState: ReconnectBackoff { backoff }

    /// Reports that a poll or IDLE cycle completed on the current connection, which resets the
    /// reconnect backoff (IMAP-5).
    public func markHealthy() {
        if backoff.recordHealthy(at: .now, cycleCompleted: true) {
            logger.debug("IMAP connection healthy; backoff reset", metadata: metadata)
        }
    }

    /// Logs out and closes the connection. The next call reconnects (without a backoff delay).
    public func close() {
        connection?.logout()
        connection = nil
        selected = nil
    }

    /// Makes any running and every later call fail with ``MailTransportError/Kind/cancelled``
    /// within about 200 ms, including an IDLE or a backoff wait. Safe to call from any task.
    public nonisolated func shutdown() {
        stop.raise()
    }

    // MARK: Folders

    /// Selects `mailbox` (default: the configured one) and returns its UIDVALIDITY, UIDNEXT and
    /// size. A missing folder throws ``MailTransportError/Kind/mailboxNotFound``.
    @discardableResult
    public func select(_ mailbox: String? = nil) throws(MailTransportError) -> MailboxStatus {
        let name = mailbox ?? configuration.mailbox
        return try withConnection { c throws(MailTransportError) in
            let status = try Self.select(name, on: c)
            selected = status
            return status
        }
    }

    /// `STATUS` of a folder without selecting it.
    public func status(_ mailbox: String) throws(MailTransportError) -> MailboxStatus {
        try withConnection { c throws(MailTransportError) in
            let result = try c.checked("STATUS \(try IMAPSyntax.mailbox(mailbox)) (MESSAGES RECENT UIDNEXT UIDVALIDITY)",
                                       operation: "STATUS of folder '\(mailbox)'")
            for case .mailboxStatus(_, let items) in result.untagged {
                return MailboxStatus(name: mailbox, uidValidity: UInt32(truncatingIfNeeded: items["UIDVALIDITY"] ?? 0),
                                     uidNext: items["UIDNEXT"].map { UInt32(truncatingIfNeeded: $0) },
                                     messages: Int(items["MESSAGES"] ?? 0), recent: items["RECENT"].map { Int($0) })
            }
            throw c.broken(.protocolViolation, "IMAP STATUS of folder '\(mailbox)' \(c.place) returned no STATUS response")
        }
    }

    /// Every folder name (decoded from modified UTF-7).
    public func listMailboxes() throws(MailTransportError) -> [String] {
        try withConnection { c throws(MailTransportError) in
            let result = try c.checked("LIST \"\" \"*\"", operation: "LIST")
            return result.untagged.compactMap { response in
                if case .list(_, _, let name) = response { return ModifiedUTF7.decode(name) }
                return nil
            }
        }
    }

    /// Creates a folder. Returns false when it already existed.
    @discardableResult
    public func createMailbox(_ mailbox: String) throws(MailTransportError) -> Bool {
        try withConnection { c throws(MailTransportError) in
            let result = try c.command("CREATE \(try IMAPSyntax.mailbox(mailbox))")
            switch result.completion.status {
            case .ok: return true
            case .no where result.completion.code?.name == "ALREADYEXISTS": return false
            default:
                throw MailTransportError(kind: .serverRejected,
                                         message: "IMAP CREATE of folder '\(mailbox)' failed \(c.place): \(result.completion.status.rawValue) \(result.completion.displayText)",
                                         serverText: result.completion.displayText)
            }
        }
    }

    // MARK: Messages (in the selected folder)

    /// `UID SEARCH criteria`: the matching UIDs, ascending.
    public func searchUIDs(_ criteria: IMAPSearchCriteria) throws(MailTransportError) -> [UInt32] {
        try withSelection { c throws(MailTransportError) in
            let result = try c.checked("UID SEARCH \(criteria.text)", operation: "UID SEARCH")
            var uids: [UInt32] = []
            for case .search(let found) in result.untagged { uids.append(contentsOf: found) }
            return uids.sorted()
        }
    }

    /// UIDs strictly greater than `lastUID` (IMAP-1: `UID n:*` is inclusive and always returns
    /// the highest UID, so the result is filtered here).
    public func uidsAfter(_ lastUID: UInt32) throws(MailTransportError) -> [UInt32] {
        guard lastUID < UInt32.max else { return [] }
        return try searchUIDs(.uids(from: lastUID + 1)).filter { $0 > lastUID }
    }

    /// UID, `RFC822.SIZE` and flags of each message, without touching its body or flags (IMAP-4:
    /// check the size before fetching). UIDs that no longer exist are left out.
    public func summaries(uids: [UInt32]) throws(MailTransportError) -> [MessageSummary] {
        guard !uids.isEmpty else { return [] }
        let wanted = Set(uids)
        return try withSelection { c throws(MailTransportError) in
            let result = try c.checked("UID FETCH \(IMAPSyntax.uidSet(uids)) (UID RFC822.SIZE FLAGS)", operation: "UID FETCH of sizes")
            var out: [MessageSummary] = []
            for case .fetch(let f) in result.untagged {
                guard let uid = f.uid, wanted.contains(uid), let size = f.size else { continue }
                out.append(MessageSummary(uid: uid, size: size, flags: f.flags ?? []))
            }
            return out.sorted { $0.uid < $1.uid }
        }
    }

    /// The message's exact bytes, fetched with `BODY.PEEK[]` so `\Seen` is not set (IMAP-3).
    /// Returns nil when no message has this UID.
    public func fetchRaw(uid: UInt32) throws(MailTransportError) -> [UInt8]? {
        try withSelection { c throws(MailTransportError) in
            let result = try c.checked("UID FETCH \(uid) (UID BODY.PEEK[])", operation: "UID FETCH of message \(uid)")
            for case .fetch(let f) in result.untagged where f.uid == uid {
                if let body = f.body() { return body }
            }
            return nil
        }
    }

    /// The exact bytes of several messages in one `UID FETCH … BODY.PEEK[]` (no `\Seen`, IMAP-3),
    /// by UID. UIDs that no longer exist are absent from the result. Keep the set's total size
    /// bounded (``summaries(uids:)`` gives the sizes): every body is held in memory at once.
    public func fetchRaw(uids: [UInt32]) throws(MailTransportError) -> [UInt32: [UInt8]] {
        guard !uids.isEmpty else { return [:] }
        let wanted = Set(uids)
        return try withSelection { c throws(MailTransportError) in
            let result = try c.checked("UID FETCH \(IMAPSyntax.uidSet(uids)) (UID BODY.PEEK[])", operation: "UID FETCH of \(uids.count) messages")
            var bodies: [UInt32: [UInt8]] = [:]
            for case .fetch(let f) in result.untagged {
                guard let uid = f.uid, wanted.contains(uid), let body = f.body() else { continue }
                bodies[uid] = body
            }
            return bodies
        }
    }

    /// `UID STORE`: adds, removes or replaces flags (silently: no per-message answer).
    public func storeFlags(_ change: FlagChange, uids: [UInt32]) throws(MailTransportError) {
        guard !uids.isEmpty else { return }
        let (op, flags): (String, [String])
        switch change {
        case .add(let f): (op, flags) = ("+FLAGS.SILENT", f)
        case .remove(let f): (op, flags) = ("-FLAGS.SILENT", f)
        case .replace(let f): (op, flags) = ("FLAGS.SILENT", f)
        }
        var encoded: [String] = []
        for flag in flags { encoded.append(try IMAPSyntax.flag(flag)) }
        let list = encoded.joined(separator: " ")
        try withSelection { c throws(MailTransportError) in
            try c.checked("UID STORE \(IMAPSyntax.uidSet(uids)) \(op) (\(list))", operation: "UID STORE")
        }
    }

    /// Moves messages to another folder: `UID MOVE` when the server has MOVE, otherwise
    /// `UID COPY` + `\Deleted` + `UID EXPUNGE` of just these UIDs (never a plain `EXPUNGE`).
    /// With `createIfMissing`, a missing target folder is created and the move retried once.
    @discardableResult
    public func move(uids: [UInt32], to mailbox: String, createIfMissing: Bool = false) throws(MailTransportError) -> MoveMethod {
        guard !uids.isEmpty else { return .move }
        do {
            return try moveOnce(uids: uids, to: mailbox)
        } catch let error where error.kind == .mailboxNotFound && createIfMissing {
            try createMailbox(mailbox)
            return try moveOnce(uids: uids, to: mailbox)
        }
    }

    private func moveOnce(uids: [UInt32], to mailbox: String) throws(MailTransportError) -> MoveMethod {
        let set = IMAPSyntax.uidSet(uids)
        let target = try IMAPSyntax.mailbox(mailbox)
        return try withSelection { c throws(MailTransportError) in
            if has(c, "MOVE") {
                try c.checked("UID MOVE \(set) \(target)", operation: "UID MOVE to '\(mailbox)'")
                return .move
            }
            try c.checked("UID COPY \(set) \(target)", operation: "UID COPY to '\(mailbox)'")
            try c.checked("UID STORE \(set) +FLAGS.SILENT (\\Deleted)", operation: "UID STORE \\Deleted")
            if has(c, "UIDPLUS") {
                try c.checked("UID EXPUNGE \(set)", operation: "UID EXPUNGE")
                return .copyAndExpunge
            }
            logger.warning("IMAP server has neither MOVE nor UIDPLUS: copied messages stay flagged \\Deleted in the source folder", metadata: metadata)
            return .copyAndFlagDeleted
        }
    }

    /// `NOOP`: keeps the connection alive and collects pending changes.
    public func noop() throws(MailTransportError) -> [MailboxEvent] {
        try withConnection { c throws(MailTransportError) in
            let result = try c.checked("NOOP", operation: "NOOP")
            return Self.events(from: c.unsolicited + result.untagged, consuming: c)
        }
    }

    // MARK: Internals

    var metadata: Logger.Metadata {
        ["imap.server": "\(configuration.endpoint.urlString)", "imap.user": "\(configuration.username)"]
    }

    /// Whether the connection has a capability, honouring ``IMAPConfiguration/ignoredCapabilities``.
    func has(_ c: IMAPConnection, _ capability: String) -> Bool {
        c.has(capability) && !configuration.ignoredCapabilities.contains(capability)
    }

    /// The open connection, or a new one after the backoff delay; re-selects the folder that was
    /// selected before a reconnect and reports a UIDVALIDITY change.
    func live() throws(MailTransportError) -> IMAPConnection {
        if stop.isRaised {
            throw MailTransportError(kind: .cancelled, message: "IMAP client for \(configuration.username) at \(configuration.endpoint.urlString) is shut down")
        }
        if let connection, !connection.isBroken { return connection }
        if let connection {
            connection.logout()
            self.connection = nil
        }
        let delay = backoff.delay()
        if delay > .zero {
            logger.info("IMAP reconnecting after backoff", metadata: metadata.merging(["delay": "\(delay)", "failures": "\(backoff.failures)"]) { $1 })
            try pause(delay)
        }
        connectionAttempts += 1
        let fresh: IMAPConnection
        do {
            fresh = try IMAPConnection(configuration: configuration, stop: stop)
        } catch {
            backoff.recordFailure(authentication: error.kind == .authentication)
            logger.debug("IMAP connection attempt failed", metadata: metadata.merging(["error": "\(error.message)"]) { $1 })
            throw error
        }
        connectionsOpened += 1
        backoff.recordConnected(at: .now)
        connection = fresh
        if !configuration.verifyCertificates {
            logger.warning("TLS certificate verification is OFF for this IMAP connection: anyone on the network path can impersonate the server", metadata: metadata)
        } else if configuration.startTLS != .required && !configuration.endpoint.isImplicitTLS {
            logger.notice("IMAP connection may be unencrypted (STARTTLS \(configuration.startTLS.rawValue))", metadata: metadata)
        }
        if let previous = selected {
            let now: MailboxStatus
            do {
                now = try Self.select(previous.name, on: fresh)
            } catch {
                dropIfBroken(fresh)
                throw error
            }
            selected = now
            if now.uidValidity != previous.uidValidity {
                throw MailTransportError(
                    kind: .uidValidityChanged,
                    message: "UIDVALIDITY of IMAP folder '\(previous.name)' \(fresh.place) changed from \(previous.uidValidity) to \(now.uidValidity): every cached UID is void; select the folder again and resynchronise",
                    serverText: "\(previous.uidValidity) -> \(now.uidValidity)")
            }
        }
        return fresh
    }

    /// Runs `body` on a live connection; a broken connection is dropped and counted for backoff.
    @discardableResult
    func withConnection<T>(_ body: (IMAPConnection) throws(MailTransportError) -> T) throws(MailTransportError) -> T {
        let c = try live()
        do {
            let value = try body(c)
            backoff.recordHealthy(at: .now)
            return value
        } catch {
            dropIfBroken(c)
            throw error
        }
    }

    /// Like ``withConnection(_:)`` but requires a selected folder.
    @discardableResult
    func withSelection<T>(_ body: (IMAPConnection) throws(MailTransportError) -> T) throws(MailTransportError) -> T {
        guard selected != nil else {
            throw MailTransportError(kind: .configuration, message: "IMAP client for \(configuration.username): no folder selected; call select() first", classification: .permanent)
        }
        return try withConnection(body)
    }

    func dropIfBroken(_ c: IMAPConnection) {
        guard c.isBroken, connection === c else { return }
        connection = nil
        backoff.recordFailure()
        logger.info("IMAP connection lost; the next call reconnects", metadata: metadata)
    }

    /// Waits `duration` on this connection's queue, ending early (with an error) on shutdown or
    /// cancellation.
    func pause(_ duration: Duration) throws(MailTransportError) {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {
            if stop.isRaised || Task.isCancelled {
                throw MailTransportError(kind: .cancelled, message: "IMAP reconnect for \(configuration.username) at \(configuration.endpoint.urlString) was cancelled")
            }
            let slice = min(end - .now, .milliseconds(100))
            if slice > .zero { usleep(UInt32(max(1, slice.milliseconds)) * 1000) }
        }
    }

    static func select(_ name: String, on c: IMAPConnection) throws(MailTransportError) -> MailboxStatus {
        let result = try c.command("SELECT \(try IMAPSyntax.mailbox(name))")
        guard result.completion.status == .ok else {
            let text = result.completion.displayText
            let missing = ["NONEXISTENT", "TRYCREATE"].contains(result.completion.code?.name ?? "")
                || text.localizedCaseInsensitiveContains("doesn't exist") || text.localizedCaseInsensitiveContains("does not exist")
            throw MailTransportError(
                kind: missing ? .mailboxNotFound : .serverRejected,
                message: missing ? "IMAP folder '\(name)' does not exist \(c.place): \(result.completion.status.rawValue) \(text)"
                                 : "IMAP SELECT of folder '\(name)' failed \(c.place): \(result.completion.status.rawValue) \(text)",
                serverText: text)
        }
        var status = MailboxStatus(name: name, uidValidity: 0, uidNext: nil, messages: 0)
        for response in result.untagged {
            switch response {
            case .exists(let n): status.messages = Int(n)
            case .recent(let n): status.recent = Int(n)
            case .status(let s) where s.status == .ok:
                guard let code = s.code else { continue }
                switch code.name {
                case "UIDVALIDITY": status.uidValidity = code.number.map { UInt32(truncatingIfNeeded: $0) } ?? 0
                case "UIDNEXT": status.uidNext = code.number.map { UInt32(truncatingIfNeeded: $0) }
                case "PERMANENTFLAGS":
                    status.permanentFlags = code.argument.trimmingCharacters(in: CharacterSet(charactersIn: "()")).split(separator: " ").map(String.init)
                default: break
                }
            default: break
            }
        }
        c.unsolicited.removeAll()
        return status
    }

    /// Turns untagged responses into events and clears the connection's unsolicited queue.
    static func events(from responses: [IMAPUntaggedResponse], consuming c: IMAPConnection) -> [MailboxEvent] {
        c.unsolicited.removeAll()
        return responses.compactMap { response in
            switch response {
            case .exists(let n): .exists(Int(n))
            case .recent(let n): .recent(Int(n))
            case .expunge(let n): .expunged(sequenceNumber: n)
            case .fetch(let f) where f.flags != nil: .flagsChanged(sequenceNumber: f.sequenceNumber, flags: f.flags ?? [])
            default: nil
            }
        }
    }
}
