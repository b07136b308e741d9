import ApprovalTokens
import Foundation
import GatewayCore

/// Who is asking the service to do something, as their channel proved it.
public enum Actor: Sendable, Hashable {
    /// The command line: whoever can open the database is trusted (the operator's channel).
    case cli
    /// A signed-in web session.
    case session(Viewer)
    /// A bearer key of the JSON API.
    case apiKey(APIKey)

    /// How the audit log names the actor; `nil` for the operator.
    var auditName: String? {
        switch self {
        case .cli: nil
        case .session(let viewer): viewer.user.email
        case .apiKey(let key): key.auditActor
        }
    }

    var channel: DecisionChannel {
        switch self {
        case .cli: .cli
        case .session: .web
        case .apiKey: .api
        }
    }
}

/// An emailed link presented for a decision: the token's verified claims, plus what the browser
/// brought with it.
public struct LinkProof: Sendable, Hashable {
    public var claims: TokenClaims
    /// The id of the key that signed the token.
    public var keyID: String
    /// The user of the browser's signed-in session, if any.
    public var signedInAs: String?
    /// The confirmation code typed on the page, if any.
    public var code: String?

    public init(claims: TokenClaims, keyID: String, signedInAs: String?, code: String?) {
        self.claims = claims
        self.keyID = keyID
        self.signedInAs = signedInAs.map(EmailAddress.normalize)
        self.code = code
    }
}

/// How the one who decides proved who they are.
public enum DecisionProof: Sendable, Hashable {
    /// The operator names the reviewer (trusted).
    case cli(reviewer: String)
    /// The signed-in viewer of the Access Requests page.
    case session(Viewer)
    /// An emailed approve, deny or review link (LINK-2: within the reviewer's session).
    case link(LinkProof)
    /// A JSON API key; `reviewer` is what the call named, if anything.
    case apiKey(APIKey, namedReviewer: String?)
}

/// A decision someone asks for.
public struct DecisionCommand: Sendable, Hashable {
    public var requestID: Int64
    public var action: DecisionAction
    public var comment: String?
    public var proof: DecisionProof
    /// Channel evidence for the audit log (a client address, a session digest prefix). Never a token.
    public var evidence: [String: String]
    /// An approval for less time than asked (`approve 1h`): the grant lasts this long. Never
    /// longer than the request's duration; `nil` grants what was asked.
    public var grantSeconds: Int?

    public init(
        requestID: Int64, action: DecisionAction, comment: String? = nil, proof: DecisionProof, evidence: [String: String] = [:],
        grantSeconds: Int? = nil
    ) {
        self.requestID = requestID
        self.action = action
        self.grantSeconds = grantSeconds
        let trimmed = comment?.trimmingCharacters(in: .whitespacesAndNewlines)
        self.comment = trimmed?.isEmpty == true ? nil : trimmed
        self.proof = proof
        self.evidence = evidence
    }
}

/// The result of a decision attempt. Both outcomes are in the audit log.
public enum DecisionOutcome: Sendable, Hashable {
    /// The attempt won: the request is decided (and, for an approved JIT request, the grant exists).
    case decided(AccessRequest, grant: Grant?, right: ReviewRight)
    /// The approval counted, and the request needs more (``AccessRequest/approvalCount`` of
    /// ``AccessRequest/approvalsRequired``): it stays pending.
    case approvalRecorded(AccessRequest, right: ReviewRight)
    /// Nothing changed, for the reason given.
    case refused(DecisionRefusal, request: AccessRequest?)
}

/// The caller may not do this: a missing scope, a role, or a field naming someone else.
public struct AccessDenied: Error, Sendable, Hashable, CustomStringConvertible {
    /// The request field at fault (`reviewer`, `requester`), when there is one.
    public var field: String?
    public var message: String

    public init(field: String? = nil, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { message }
}

/// What opening a request asks for. The requester comes from the actor unless the channel may
/// name one (the operator, an integration key with `requests:create`).
public struct RequestDraft: Sendable, Hashable {
    /// The requester the call named, if any.
    public var requester: String?
    public var resource: String
    public var reason: String
    public var durationSeconds: Int?
    public var kind: RequestKind?

    public init(requester: String? = nil, resource: String, reason: String, durationSeconds: Int? = nil, kind: RequestKind? = nil) {
        self.requester = requester.map(EmailAddress.normalize)
        self.resource = resource
        self.reason = reason
        self.durationSeconds = durationSeconds
        self.kind = kind
    }
}

/// A new session: the secret goes into the browser's cookie, only its digest is stored.
public struct NewSession: Sendable, Hashable {
    public var secret: String
    public var user: User
    public var expiresAt: Date
}

/// What a sign-in attempt came to.
public enum SignInOutcome: Sendable, Hashable {
    /// Signed in; `link` is the sign-in link's claims (a request and action to return to, if any).
    case signedIn(NewSession, link: TokenClaims)
    /// The sign-in link was used before (LINK-8).
    case linkUsed
    /// The link's user is no longer an active user.
    case unknownUser
}

/// A request for an emailed sign-in link.
public enum SignInLinkOutcome: Sendable, Hashable {
    /// Sent (or silently not sent, for an unknown address: the answer is the same).
    case sent
    /// Too many links were asked for from this client.
    case tooManyAttempts
}
