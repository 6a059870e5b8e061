"""Response models (``*Public``) of the API's routes that answer JSON shaped by library functions.

Each model states exactly what its route returns, so that the OpenAPI document is the contract;
FastAPI checks every answer against it. Routes that answer files or streams declare their media
types instead (:func:`vigil.api.contract.media`).
"""
