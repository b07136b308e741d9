import Foundation
import GatewayApp
import GatewayCore

/// What the renderer reads from the database for a set of emails, read in one snapshot.
///
/// The outbox renders a batch of emails at a time, and a burst of new requests gives each request
/// five or more emails: reading a request, its resource and its people once per batch instead of
/// once per email takes the database out of the rendering loop. Rendering from these facts is pure.
public struct RenderFacts: Sendable {
    /// This installation's id (Message-IDs, thread roots, the loop marker).
    public var installation: String
    public var requests: [Int64: AccessRequest] = [:]
    public var resources: [String: Resource] = [:]
    /// People by normalised address; a person missing here is no longer in the directory.
    public var users: [String: User] = [:]
    /// Directory ids by normalised address (reply keys name the reviewer by id).
    public var userIDs: [String: Int64] = [:]

    public init(installation: String) {
        self.installation = installation
    }

    /// Reads everything `entries` need, in one read transaction.
    public static func read(for entries: [OutboxEntry], from store: any GatewayStorage) async throws -> RenderFacts {
        let installation = try await store.installationID()
        return try await store.read { tx in
            var facts = RenderFacts(installation: installation)
            var emails: Set<String> = []
            for entry in entries {
                emails.insert(entry.recipient)
                if let approver = entry.context["approved_by"] { emails.insert(approver) }
                if let approvers = entry.context["approvers"] { emails.formUnion(Self.addresses(in: approvers)) }
                guard let id = entry.requestID, facts.requests[id] == nil, let request = try tx.request(id: id) else { continue }
                facts.requests[id] = request
                emails.insert(request.requester)
                if let reviewer = request.decision?.reviewer { emails.insert(reviewer) }
                if facts.resources[request.resource] == nil, let resource = try tx.resource(named: request.resource) {
                    facts.resources[request.resource] = resource
                }
            }
            for email in Set(emails.map(EmailAddress.normalize)) {
                if let user = try tx.user(email: email) { facts.users[email] = user }
            }
            // Only reviewers of a pending request get a reply key.
            for entry in entries where NotificationKind.decisionInvitations.contains(entry.kind) {
                let email = EmailAddress.normalize(entry.recipient)
                if facts.userIDs[email] == nil, let id = try tx.userID(email: email) { facts.userIDs[email] = id }
            }
            return facts
        }
    }

    /// The person with address `email`, if still in the directory.
    public func user(_ email: String) -> User? { users[EmailAddress.normalize(email)] }

    /// `a@x, b@x` as addresses.
    static func addresses(in list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
