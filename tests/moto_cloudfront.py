"""CloudFront inside moto's CloudFormation, for tests/test_deploy.py.

moto 5.2.5 serves CloudFront's own API for distributions, origin access controls and
functions, but its CloudFormation knows none of the four AWS::CloudFront:: types the
edge stack uses: it skips them, and a stack whose outputs name one fails to create.
And it has no response headers policies at all. `MODELS` gives moto's CloudFormation
a model for each type (without registering it globally), backed by moto's CloudFront
backend where there is one:

- Distribution: the template's `DistributionConfig` written in the CloudFront API's
  shape (`api_distribution_config`: lists as Quantity/Items, `IPV6Enabled` as
  `IsIPV6Enabled`...) and created, updated and deleted in moto's CloudFront, which
  gives it its id, ARN and `*.cloudfront.net` domain. moto's distribution model keeps
  origins, behaviours, policy ids and the default root object, and drops an origin's
  `OriginAccessControlId` and a behaviour's function associations (those are checked
  in the stored template);
- OriginAccessControl, Function: created in moto's CloudFront (a function published
  as `AutoPublish` asks);
- ResponseHeadersPolicy: kept here (`ResponseHeadersPolicy.stored`, by id), as moto
  has nothing to keep it in.

What CloudFront itself would do with these (sign requests to S3, run the function,
send the headers, carry a WebSocket) is not proven by any of this.
"""
import uuid
from moto.cloudfront.models import cloudfront_backends


def _backend(account_id):
    return cloudfront_backends[account_id]["aws"]


def _api_list(items, convert=lambda item: item):
    return {"Quantity": len(items), "Items": [convert(item) for item in items]}


def _api_origin(origin):
    api = {k: v for k, v in origin.items() if k != "CustomOriginConfig"}
    if "CustomOriginConfig" in origin:
        custom = dict(origin["CustomOriginConfig"])
        custom["OriginSslProtocols"] = _api_list(custom.pop("OriginSSLProtocols", []))
        api["CustomOriginConfig"] = custom
    return api


def _api_behaviour(behaviour):
    api = {k: v for k, v in behaviour.items()
           if k not in ("AllowedMethods", "CachedMethods", "FunctionAssociations")}
    api["AllowedMethods"] = {**_api_list(behaviour.get("AllowedMethods", ["GET", "HEAD"])),
                             "CachedMethods": _api_list(behaviour.get("CachedMethods", ["GET", "HEAD"]))}
    return api


def api_distribution_config(config, caller_reference):
    """CloudFormation's DistributionConfig as CloudFront's API (and so moto's backend)
    takes it, as far as the edge stack uses it."""
    return {"CallerReference": caller_reference, "Comment": config.get("Comment", ""),
            "Enabled": config["Enabled"], "DefaultRootObject": config.get("DefaultRootObject", ""),
            "HttpVersion": config.get("HttpVersion", "http2"),
            "IsIPV6Enabled": config.get("IPV6Enabled", False),
            "ViewerCertificate": config.get("ViewerCertificate", {}),
            "Origins": _api_list(config["Origins"], _api_origin),
            "DefaultCacheBehavior": _api_behaviour(config["DefaultCacheBehavior"]),
            "CacheBehaviors": _api_list(config.get("CacheBehaviors", []), _api_behaviour)}


class _Shim:
    """What moto's CloudFormation asks of a model (moto.core.common_models.
    CloudFormationModel): attributes, create, update, delete."""
    ATTRIBUTES = ()

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in cls.ATTRIBUTES

    @staticmethod
    def cloudformation_name_type():
        return ""

    def is_created(self):
        return True


class Distribution(_Shim):
    ATTRIBUTES = ("DomainName", "Id")

    def __init__(self, account_id, distribution):
        self.account_id, self.distribution = account_id, distribution
        self.physical_resource_id = distribution.distribution_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        config = api_distribution_config(cloudformation_json["Properties"]["DistributionConfig"],
                                         str(uuid.uuid4()))
        distribution, _, _ = _backend(account_id).create_distribution(config, tags=[])
        return cls(account_id, distribution)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        old = original_resource.distribution
        config = api_distribution_config(cloudformation_json["Properties"]["DistributionConfig"],
                                         old.distribution_config.caller_reference)
        _backend(account_id).update_distribution(config, old.distribution_id, if_match=True)
        return original_resource

    def get_cfn_attribute(self, name):
        return {"DomainName": self.distribution.domain_name,
                "Id": self.distribution.distribution_id}[name]

    def delete(self, account_id, region_name):
        _backend(account_id).delete_distribution(self.distribution.distribution_id, if_match=True)


class OriginAccessControl(_Shim):
    ATTRIBUTES = ("Id",)

    def __init__(self, control):
        self.control = control
        self.physical_resource_id = control.id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        return cls(_backend(account_id).create_origin_access_control(
            dict(cloudformation_json["Properties"]["OriginAccessControlConfig"])))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        _backend(account_id).update_origin_access_control(
            original_resource.control.id,
            dict(cloudformation_json["Properties"]["OriginAccessControlConfig"]))
        return original_resource

    def get_cfn_attribute(self, name):
        return {"Id": self.control.id}[name]

    def delete(self, account_id, region_name):
        _backend(account_id).delete_origin_access_control(self.control.id)


class Function(_Shim):
    ATTRIBUTES = ("FunctionARN", "Stage")

    def __init__(self, function):
        self.function = function
        self.physical_resource_id = function.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        function = _backend(account_id).create_function(
            properties["Name"], dict(properties["FunctionConfig"]),
            properties["FunctionCode"].encode(), tags=[])
        if properties.get("AutoPublish"):
            function.stage, function.status = "LIVE", "DEPLOYED"
        return cls(function)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        original_resource.function.config = dict(properties["FunctionConfig"])
        original_resource.function.code = properties["FunctionCode"].encode()
        return original_resource

    def get_cfn_attribute(self, name):
        return {"FunctionARN": self.function.arn, "Stage": self.function.stage}[name]

    def delete(self, account_id, region_name):
        _backend(account_id).delete_function(self.function.name, if_match=True)


class ResponseHeadersPolicy(_Shim):
    """moto has no response headers policies at all: kept here, by id."""
    ATTRIBUTES = ("Id", "LastModifiedTime")
    stored = {}

    def __init__(self, config):
        self.physical_resource_id = str(uuid.uuid4())
        self.stored[self.physical_resource_id] = config

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        return cls(cloudformation_json["Properties"]["ResponseHeadersPolicyConfig"])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        cls.stored[original_resource.physical_resource_id] = \
            cloudformation_json["Properties"]["ResponseHeadersPolicyConfig"]
        return original_resource

    def get_cfn_attribute(self, name):
        return {"Id": self.physical_resource_id, "LastModifiedTime": ""}[name]

    def delete(self, account_id, region_name):
        self.stored.pop(self.physical_resource_id, None)


MODELS = {"AWS::CloudFront::Distribution": Distribution,
          "AWS::CloudFront::OriginAccessControl": OriginAccessControl,
          "AWS::CloudFront::Function": Function,
          "AWS::CloudFront::ResponseHeadersPolicy": ResponseHeadersPolicy}
