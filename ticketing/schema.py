"""The OpenAPI schema's one AutoSchema: what every operation can answer besides its own success.

Each view documents its successes and its domain errors (`@extend_schema(responses=...)`); this
adds, in one place, the answers that come from the framework around it, each with its real body —
400 field errors or `{detail, code}`, 401 for a missing or bad token, 403 for a wrong role (or a
page session's missing CSRF token), 404 for an unknown id or page, 414 (gunicorn's, for a huge
query string), 415, 429 when throttled — and declares no security requirement for the views anyone
may call, so Swagger UI shows no lock there.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny

FIELD_ERRORS = {
    "type": "object",
    "description": "Field errors: each field that was refused (or `non_field_errors`) with its messages.",
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "array", "items": {"type": "object"}},
            {"type": "object"},
        ]
    },
}
DESCRIPTIONS = {
    "400": "The input was refused: field errors, or a domain rule as {detail, code}.",
    "401": "No valid access token (missing, expired or revoked).",
    "403": "Your role may not do this.",
    "404": "No such object (or not one you may see), or no such page.",
    "409": "It changed in the meantime (taken, sold out, not in the right state).",
    "414": "The query string is too long (answered by the HTTP server in front of the app, as HTML).",
    "415": "A request body in a media type this operation does not take.",
    "429": "Too many requests; try again later.",
}


class AutoSchema(SpectacularAutoSchema):
    def _allows_anyone(self) -> bool:
        return all(isinstance(p, AllowAny) for p in self.view.get_permissions())

    def get_auth(self):
        # The hot path's token class (accounts.authentication) is simplejwt's bearer scheme, "jwtAuth": shown
        # as simplejwt's own class, so the schema has one component of that name, not two. Likewise a
        # session class of our own (analytics.beacon's) is DRF's "cookieAuth".
        from rest_framework_simplejwt.authentication import JWTAuthentication

        from accounts.authentication import BuyerJWTAuthentication

        def documented(a):
            if isinstance(a, BuyerJWTAuthentication):
                return JWTAuthentication()
            return SessionAuthentication() if isinstance(a, SessionAuthentication) else a

        view, authenticators = self.view, self.view.get_authenticators()
        view.get_authenticators = lambda: [documented(a) for a in authenticators]
        try:
            auth = super().get_auth()  # also registers the security schemes for the Authorize button
        finally:
            del view.get_authenticators
        return [] if self._allows_anyone() else auth

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # DRF refuses "" for a CharField unless allow_blank: say so, or clients send it.
        if (direction == "request" and isinstance(field, serializers.CharField) and not field.allow_blank
                and schema.get("type") == "string" and "minLength" not in schema and "enum" not in schema):
            schema["minLength"] = 1
        return schema

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            self._add_framework_errors(operation)
        return operation

    def _add_framework_errors(self, operation: dict) -> None:
        responses = operation["responses"]
        parameters = operation.get("parameters", [])
        authenticators = self.view.get_authenticators()
        has_body = "requestBody" in operation
        unsafe = self.method not in SAFE_METHODS
        codes = set()
        if any(p["in"] == "query" for p in parameters):
            codes.update(("400", "414"))
        if has_body:
            codes.add("400")
        if authenticators:  # a bad or expired token is refused even where no token is needed
            codes.add("401")
        if not self._allows_anyone() or (unsafe and any(isinstance(a, SessionAuthentication) for a in authenticators)):
            codes.add("403")
        if any(p["in"] == "path" or p["name"] == "page" for p in parameters):
            codes.add("404")
        if has_body:
            codes.add("415")
        if self.view.get_throttles():
            codes.add("429")
        for code in codes:
            responses.setdefault(code, {"description": DESCRIPTIONS[code]})
        for code, response in responses.items():
            if code == "400" or (code.startswith("4") and code != "414" and "content" not in response):
                response["content"] = {"application/json": {"schema": self._error_schema(code)}}
            if not response.get("description"):
                response["description"] = DESCRIPTIONS.get(code, "")

    def _error_schema(self, code: str) -> dict:
        from accounts.serializers import ErrorSerializer

        error = self.resolve_serializer(ErrorSerializer(), "response").ref
        if code != "400":
            return error
        fields = ResolvedComponent(name="FieldErrors", type=ResolvedComponent.SCHEMA, object="FieldErrors",
                                   schema=FIELD_ERRORS)
        self.registry.register_on_missing(fields)
        return {"anyOf": [error, fields.ref]}
