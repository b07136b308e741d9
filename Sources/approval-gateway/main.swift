import GatewayCLI

await ApprovalGatewayCommand.start()
