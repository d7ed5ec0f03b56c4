from rest_framework import serializers


class ConcertOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    venue = serializers.CharField()
