from apps.common.errors import ApplicationError


class InvalidAmount(ApplicationError):
    status, code, title = 400, "INVALID_AMOUNT", "Invalid amount"
    default_detail = "amount must be a JSON integer from 1 to 1,000,000,000."


class InsufficientBalance(ApplicationError):
    status, code, title = 402, "INSUFFICIENT_BALANCE", "Insufficient balance"
    default_detail = "The wallet balance does not cover this payment."
