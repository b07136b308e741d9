import Foundation

extension IMAPMailbox {
    /// Waits for changes in the selected folder with IDLE (RFC 2177) and returns them as soon as
    /// the server reports any, or an empty list when `duration` passes without one.
    ///
    /// - Each IDLE lasts at most ``IMAPConfiguration/idleRefresh`` (at most 29 minutes): it is
    ///   then ended with `DONE` and issued again, which also proves the connection still works.
    ///   A completed refresh marks the connection healthy for the reconnect backoff (IMAP-5).
    /// - A dead connection is detected by the server closing it (`* BYE` or end of stream), by
    ///   TCP keepalive, or by `DONE` going unanswered within the command timeout; any of these
    ///   throws ``MailTransportError/Kind/connectionLost`` or ``MailTransportError/Kind/timeout``.
    /// - Changes already reported by earlier commands are returned at once.
    /// - Cancelling the calling task ends the IDLE cleanly (`DONE`) and throws
    ///   ``MailTransportError/Kind/cancelled``; the connection stays usable.
    /// - Servers without IDLE are polled with `NOOP` every two seconds instead.
    public func idle(for duration: Duration) throws(MailTransportError) -> [MailboxEvent] {
        try withSelection { c throws(MailTransportError) in
            let pending = Self.events(from: c.unsolicited, consuming: c)
            if !pending.isEmpty { return pending }
            let deadline = ContinuousClock.now + duration
            guard has(c, "IDLE") else {
                return try pollWithNoop(c, until: deadline)
            }
            while true {
                let segmentEnd = min(deadline, .now + configuration.idleRefresh)
                let (events, cancelled) = try idleOnce(c, until: segmentEnd)
                if cancelled {
                    throw MailTransportError(kind: .cancelled, message: "IMAP IDLE for \(configuration.username) at \(configuration.endpoint.urlString) was cancelled")
                }
                if !events.isEmpty || ContinuousClock.now >= deadline { return events }
                markHealthy()
            }
        }
    }

    /// One IDLE ... DONE exchange. Returns the events seen and whether the task was cancelled.
    private func idleOnce(_ c: IMAPConnection, until end: ContinuousClock.Instant) throws(MailTransportError) -> ([MailboxEvent], Bool) {
        let tag = c.nextTag()
        let commandDeadline = ContinuousClock.now + configuration.commandTimeout
        try c.send("\(tag) IDLE\r\n", deadline: commandDeadline, what: "IDLE")
        var untagged: [IMAPUntaggedResponse] = []
        // Wait for the continuation ("+ idling").
        accepted: while true {
            switch try c.readResponse(deadline: commandDeadline, what: "IDLE") {
            case .continuation: break accepted
            case .untagged(let u): try collect(u, into: &untagged, c)
            case .tagged(let t, let status) where t == tag:
                throw MailTransportError(kind: .serverRejected,
                                         message: "IMAP IDLE refused \(c.place): \(status.status.rawValue) \(status.displayText)",
                                         serverText: status.displayText)
            case .tagged(let t, _):
                throw c.broken(.protocolViolation, "IMAP server answered unknown tag \(t) during IDLE \(c.place)")
            }
        }
        var cancelled = false
        // Wait for a change, the end of this segment, or cancellation, in short slices.
        waiting: while Self.events(from: untagged, peek: true).isEmpty {
            if Task.isCancelled { cancelled = true; break }
            let now = ContinuousClock.now
            if now >= end { break }
            let slice = min(end, now + .milliseconds(250))
            guard let response = try c.readResponseIfAny(deadline: slice, what: "IDLE", timeoutIsError: false) else { continue }
            switch response {
            case .untagged(let u): try collect(u, into: &untagged, c)
            case .tagged(let t, let status) where t == tag:
                // The server ended the IDLE on its own; treat it like a DONE answer.
                if status.status != .ok {
                    throw MailTransportError(kind: .serverRejected, message: "IMAP IDLE ended by the server \(c.place): \(status.status.rawValue) \(status.displayText)", serverText: status.displayText)
                }
                return (Self.events(from: untagged, consuming: c), cancelled)
            case .tagged(let t, _):
                throw c.broken(.protocolViolation, "IMAP server answered unknown tag \(t) during IDLE \(c.place)")
            case .continuation:
                break waiting
            }
        }
        // End the IDLE and wait for its completion; a silent server here means a dead connection.
        let doneDeadline = ContinuousClock.now + configuration.commandTimeout
        try c.send("DONE\r\n", deadline: doneDeadline, what: "IDLE")
        while true {
            switch try c.readResponse(deadline: doneDeadline, what: "IDLE DONE") {
            case .untagged(let u): try collect(u, into: &untagged, c)
            case .tagged(let t, _) where t == tag:
                return (Self.events(from: untagged, consuming: c), cancelled)
            case .tagged(let t, _):
                throw c.broken(.protocolViolation, "IMAP server answered unknown tag \(t) after DONE \(c.place)")
            case .continuation:
                throw c.broken(.protocolViolation, "IMAP server sent a continuation after DONE \(c.place)")
            }
        }
    }

    private func collect(_ u: IMAPUntaggedResponse, into list: inout [IMAPUntaggedResponse], _ c: IMAPConnection) throws(MailTransportError) {
        if case .status(let s) = u, s.status == .bye {
            throw c.broken(.connectionLost, "IMAP server closed the session \(c.place) during IDLE: \(s.displayText)", serverText: s.displayText)
        }
        list.append(u)
    }

    private func pollWithNoop(_ c: IMAPConnection, until deadline: ContinuousClock.Instant) throws(MailTransportError) -> [MailboxEvent] {
        while true {
            let result = try c.checked("NOOP", operation: "NOOP")
            let events = Self.events(from: c.unsolicited + result.untagged, consuming: c)
            if !events.isEmpty || ContinuousClock.now >= deadline { return events }
            try pause(min(.seconds(2), deadline - .now))
        }
    }

    /// The events in `responses`, without touching any connection state.
    static func events(from responses: [IMAPUntaggedResponse], peek: Bool) -> [MailboxEvent] {
        responses.compactMap { response in
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
