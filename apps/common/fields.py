from rest_framework import serializers

MAX_BIGINT = 2**63 - 1


class StrictIntegerField(serializers.IntegerField):
    """An integer that must be a JSON integer: "5", 5.0 and true are rejected, not coerced."""

    default_error_messages = {"invalid": "A JSON integer is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A string that must be a JSON string: numbers are rejected, not turned into text."""

    default_error_messages = {"invalid": "A JSON string is required."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
