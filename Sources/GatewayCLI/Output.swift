import Foundation
import GatewayAPI
import GatewayCore

/// Where commands write: JSON lines on standard output, messages for people on standard error.
enum Output {
    static func json(_ value: JSONValue) {
        print(value.serialized())
    }

    /// Prints one of the JSON API's Codable bodies on one line: the CLI and the API print the same fields.
    static func json(_ value: some Encodable) {
        do {
            print(String(decoding: try JSONEncoder.gatewayAPI.encode(value), as: UTF8.self))
        } catch {
            Output.error("cannot encode the output: \(error)")
        }
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }
}

extension DirectorySyncReport {
    var json: JSONValue {
        .object([
            ("users_added", .number(usersAdded)), ("users_updated", .number(usersUpdated)),
            ("users_deactivated", .number(usersDeactivated)),
            ("groups_added", .number(groupsAdded)), ("groups_updated", .number(groupsUpdated)),
            ("groups_removed", .number(groupsRemoved)),
            ("resources_added", .number(resourcesAdded)), ("resources_updated", .number(resourcesUpdated)),
            ("resources_deactivated", .number(resourcesDeactivated)),
        ])
    }
}
