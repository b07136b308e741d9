import Foundation
import GRDB
import GatewayCore

extension SQLiteStore {
    /// Decides in one write transaction: read the facts, judge them with ``DecisionPolicy``, claim the
    /// request with a conditional update, then (for the winner only) create the grant or lift the
    /// lock, and append the audit record. A refusal is audited in the same way and returned.
    public func decide(_ attempt: DecisionAttempt, now: Date) async throws -> DecisionOutcome {
        try await pool.write { db in try Self.decide(attempt, now: now, db: db) }
    }

    /// The decision, inside the caller's write transaction.
    static func decide(_ attempt: DecisionAttempt, now: Date, db: Database) throws -> DecisionOutcome {
            func refuse(_ refusal: DecisionRefusal, _ request: AccessRequest?) throws -> DecisionOutcome {
                try db.appendAudit(
                    at: now, action: "decide", actor: attempt.reviewer, requestID: attempt.requestID,
                    channel: attempt.channel, outcome: "refused", reason: refusal.code.rawValue,
                    detail: attempt.evidence.merging(["attempted": attempt.action.rawValue]) { old, _ in old }
                )
                return .refused(refusal, request: request)
            }

            guard let request = try db.fetchRequest(id: attempt.requestID),
                  let resource = try db.fetchResource(name: request.resource) else {
                return try refuse(DecisionRefusal(.unknownRequest, detail: "there is no request \(attempt.requestID)"), nil)
            }
            let facts = DecisionPolicy.Facts(
                request: request, resource: resource,
                reviewer: try db.fetchUser(email: attempt.reviewer),
                reviewerGroups: try db.groupNames(of: attempt.reviewer),
                channel: attempt.channel, now: now
            )
            if let nonce = attempt.tokenNonce,
               try Bool.fetchOne(db, sql: "SELECT 1 FROM used_tokens WHERE nonce_digest = ?", arguments: [nonce]) == true {
                return try refuse(DecisionRefusal(.tokenUsed, detail: "this link or reply was already used for a decision"), request)
            }
            let right: ReviewRight
            do throws(DecisionRefusal) {
                right = try DecisionPolicy.authorize(facts)
            } catch {
                if error.code == .pastDeadline {
                    try Self.expireOverdue(db: db, now: now, extraCondition: "AND id = ?", arguments: [request.id])
                }
                return try refuse(error, try db.fetchRequest(id: request.id))
            }

            // AUTHZ-4: the claim. Only an update that still finds the request pending wins.
            try db.execute(sql: """
                UPDATE access_requests
                SET state = ?, resolved_at = ?, decided_by_id = (SELECT id FROM users WHERE email = ?),
                    decision_action = ?, decision_channel = ?, decision_comment = ?
                WHERE id = ? AND state = 'pending' AND expires_at > ?
                """, arguments: [
                    attempt.action.resultingState.rawValue, now, attempt.reviewer, attempt.action.rawValue,
                    attempt.channel.rawValue, attempt.comment, request.id, now,
                ])
            guard db.changesCount == 1 else {
                let current = try db.fetchRequest(id: request.id)
                return try refuse(
                    DecisionRefusal(.notPending, detail: "request \(request.id) was decided by someone else first", state: current?.state, decidedBy: current?.decision?.reviewer),
                    current
                )
            }

            var grant: Grant?
            if attempt.action == .approve {
                switch request.kind {
                case .jit:
                    let duration = TimeInterval(request.durationSeconds ?? resource.allowedDurations.first ?? 3600)
                    try db.execute(sql: """
                        INSERT INTO grants (request_id, user_id, resource_id, starts_at, ends_at)
                        SELECT id, requester_id, resource_id, ?, ? FROM access_requests WHERE id = ?
                        """, arguments: [now, now.addingTimeInterval(duration), request.id])
                    grant = try db.fetchGrant(requestID: request.id)
                case .unlock:
                    try db.execute(sql: """
                        UPDATE locks SET lifted_at = ?, lifted_by_request_id = ?
                        WHERE lifted_at IS NULL AND (user_id, resource_id) =
                            (SELECT requester_id, resource_id FROM access_requests WHERE id = ?)
                        """, arguments: [now, request.id, request.id])
                }
            }
            var detail = attempt.evidence
            if let grant { detail["grant_ends_at"] = RFC3339.string(from: grant.endsAt) }
            try db.appendAudit(
                at: now, action: "decide", actor: attempt.reviewer, requestID: request.id, channel: attempt.channel,
                outcome: "accepted", reason: right.description,
                detail: detail.merging(["attempted": attempt.action.rawValue]) { old, _ in old }
            )
            if let nonce = attempt.tokenNonce {
                try db.execute(
                    sql: "INSERT INTO used_tokens (nonce_digest, request_id, channel, used_at) VALUES (?, ?, ?, ?)",
                    arguments: [nonce, request.id, attempt.channel.rawValue, now]
                )
            }
            let decided = try db.fetchRequest(id: request.id)!
            try db.enqueueOutcome(decided, now: now)
            return .decided(decided, grant: grant, right: right)
    }
}
