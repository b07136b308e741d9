import Foundation
import GatewayApp
import GatewayCore
import PostgresNIO

/// Each use case's reads queued on the connection together, with one wait for all their answers.
///
/// PostgresNIO sends a connection's next statement once the one before is answered, so the round
/// trips stay one per query; what is saved is the pool thread's hand-off to the event loop and
/// back for each of them. Under the write lock (a decision, a new request) that hand-off is most
/// of what a write holds the lock for when the two cores are busy.
extension PostgresTransaction: UseCaseReads {
    func decisionFacts(requestID: Int64, reviewer: String) throws -> DecisionFacts? {
        let email = EmailAddress.normalize(reviewer)
        let answers = try session.rows([
            // The request's row is locked: an open of the same requester and resource, which may
            // expire it, waits for this decision, and this decision sees what such an open committed.
            requestQuery("WHERE r.id = \(requestID) FOR NO KEY UPDATE OF r"),
            "\(unescaped: Self.resourceSelect) WHERE r.id = (SELECT resource_id FROM access_requests WHERE id = \(requestID))",
            """
            SELECT u.*, ARRAY(SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id) AS group_names
            FROM users u WHERE u.email = \(email)
            """,
        ] + Self.outcomeAudienceQueries(requestID: requestID))
        guard let request = try answers[0].first.map({ try AccessRequest(stored: StoredRow($0, table: "access_requests")) }) else { return nil }
        let resource = try answers[1].first.map { try Self.resource(from: StoredRow($0, table: "resources")) }
        let reviewerRow = answers[2].first.map { StoredRow($0, table: "users") }
        let groups: [String] = try reviewerRow.map { try $0("group_names") } ?? []
        return DecisionFacts(
            request: request, resource: resource, reviewer: try reviewerRow.map(User.init(stored:)), reviewerGroups: Set(groups),
            audience: try Self.outcomeAudience(from: answers[3...])
        )
    }

    func openingFacts(requester: String, resource name: String, now: Date) throws -> OpeningFacts {
        let requester = EmailAddress.normalize(requester)
        let answers = try session.rows([
            // First, and locked: a decision on the pending request (which may lift the lock read
            // next) finishes before this reads on, or waits for this open.
            Self.requestQuery("WHERE u.email = \(requester) AND res.name = \(name) AND r.state = 'pending' FOR NO KEY UPDATE OF r"),
            "\(unescaped: Self.resourceSelect) WHERE r.name = \(name)",
            "SELECT * FROM users WHERE email = \(requester)",
            Self.activeLockQuery(user: requester, resource: name),
        ] + Self.newRequestAudienceQueries(resource: name))
        let pending = try answers[0].first.map { try AccessRequest(stored: StoredRow($0, table: "access_requests")) }
        let resource = try answers[1].first.map { try Self.resource(from: StoredRow($0, table: "resources")) }
        return OpeningFacts(
            // A requester has at most one pending request per resource (a unique index says so):
            // the overdue ones are that one, once past its deadline.
            overdueRequestIDs: pending.flatMap { $0.expiresAt <= now ? [$0.id] : nil } ?? [], resource: resource,
            requester: try answers[2].first.map { try User(stored: StoredRow($0, table: "users")) },
            lock: try answers[3].first.map { try AccessLock(stored: StoredRow($0, table: "locks")) },
            pending: pending,
            audience: resource == nil ? nil : try Self.newRequestAudience(from: answers[4...])
        )
    }

    func outcomeAudience(requestID: Int64) throws -> OutcomeAudience {
        try Self.outcomeAudience(from: session.rows(Self.outcomeAudienceQueries(requestID: requestID))[...])
    }

    func newRequestAudience(for resource: Resource) throws -> NewRequestAudience {
        try Self.newRequestAudience(from: session.rows(Self.newRequestAudienceQueries(resource: resource.name))[...])
    }

    // MARK: The audiences' queries

    /// Who was sent the request's new-request email or its escalation; those in the directory with
    /// every admin-role user; every stored preference.
    static func outcomeAudienceQueries(requestID: Int64) -> [PostgresQuery] {
        let roles = AdminRole.reviewingEverything.map(\.rawValue)
        return [
            """
            SELECT DISTINCT recipient COLLATE "C" AS recipient FROM outbox WHERE request_id = \(requestID) AND kind IN ('new_request', 'escalated')
            ORDER BY 1
            """,
            """
            SELECT * FROM users
            WHERE email IN (SELECT recipient FROM outbox WHERE request_id = \(requestID) AND kind IN ('new_request', 'escalated'))
               OR role = ANY(\(roles))
            ORDER BY email COLLATE "C"
            """,
            preferencesQuery,
        ]
    }

    static func outcomeAudience(from answers: ArraySlice<[PostgresRow]>) throws -> OutcomeAudience {
        let parts = Array(answers)
        return OutcomeAudience(
            notified: try parts[0].map { try StoredRow($0, table: "outbox")("recipient", as: String.self) },
            users: try parts[1].map { try User(stored: StoredRow($0, table: "users")) },
            preferences: try preferences(from: parts[2])
        )
    }

    /// The resource's approver groups with their members; those members in the directory with
    /// every admin-role user; every stored preference.
    static func newRequestAudienceQueries(resource: String) -> [PostgresQuery] {
        let roles = AdminRole.reviewingEverything.map(\.rawValue)
        return [
            groupsQuery("""
                WHERE g.id IN (SELECT a.group_id FROM resource_approver_groups a JOIN resources r ON r.id = a.resource_id WHERE r.name = \(resource))
                """),
            """
            SELECT * FROM users
            WHERE id IN (
                SELECT m.user_id FROM group_members m
                JOIN resource_approver_groups a ON a.group_id = m.group_id JOIN resources r ON r.id = a.resource_id
                WHERE r.name = \(resource)
            ) OR role = ANY(\(roles))
            ORDER BY email COLLATE "C"
            """,
            preferencesQuery,
        ]
    }

    static func newRequestAudience(from answers: ArraySlice<[PostgresRow]>) throws -> NewRequestAudience {
        let parts = Array(answers)
        return NewRequestAudience(
            groups: try groups(from: parts[0]),
            users: try parts[1].map { try User(stored: StoredRow($0, table: "users")) },
            preferences: try preferences(from: parts[2])
        )
    }
}
