import Foundation
import GatewayCore

// The JSON API's request bodies. Unknown fields are ignored; wrong types are a validation error
// naming the field.

/// `POST /api/v1/requests`.
public struct OpenRequestBody: Decodable, Sendable {
    /// Only with an integration key (`requests:create`), or naming the personal key's own user.
    public var requester: String?
    public var resource: String
    public var reason: String
    /// `4h`, `30m`, `1d`, or a number of seconds.
    public var duration: DurationValue?
    public var kind: RequestKind?
}

/// A duration given as text (`4h`) or as seconds (`14400`).
public struct DurationValue: Decodable, Sendable, Hashable {
    public var seconds: Int

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let seconds = DurationText.seconds(from: text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "duration must be like 4h, 30m or 1d")
            }
            self.seconds = seconds
        } else if let seconds = try? container.decode(Int.self), seconds > 0 {
            self.seconds = seconds
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "duration must be a string like 4h or a positive number of seconds")
        }
    }
}

/// `POST /api/v1/requests/{id}/decision`.
public struct DecisionBody: Decodable, Sendable {
    public var action: DecisionAction
    /// A personal key may name only its own user.
    public var reviewer: String?
    public var comment: String?
    /// With `approve`: grant less time than asked; never more.
    public var duration: DurationValue?
}

/// `POST /api/v1/requests/{id}/cancel`.
public struct CancelBody: Decodable, Sendable {
    public var requester: String?
}

/// `POST /api/v1/grants/{id}/revoke`.
public struct RevokeGrantBody: Decodable, Sendable {
    public var reason: String?
}

/// `POST /api/v1/usage`.
public struct UsageBody: Decodable, Sendable {
    public var user: String
    public var resource: String
}

/// `PUT /api/v1/resources/{name}/approver-groups`.
public struct ApproverGroupsBody: Decodable, Sendable {
    public var groups: [String]
}

/// `PUT /api/v1/groups/{name}/members`.
public struct GroupMembersBody: Decodable, Sendable {
    public var members: [String]
}
