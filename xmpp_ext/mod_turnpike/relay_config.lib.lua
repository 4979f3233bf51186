-- turnpike's own config file (option turnpike_config), through the native module: the services
-- and the secret come from it. (Re)loading keeps the previous state when the file is broken, so a
-- bad edit never stops the credential desk.
--
-- State, all in the object new(ctx) returns, refreshed by every load():
--   config  the native config object (turnpike.load_config), or nil
--   info    config:info(), or nil
--   error   why the last (re)load failed, or nil
--   ttl     ctx.options.ttl, capped to the relay's max-credential-ttl

local relay_config = {};
relay_config.__index = relay_config;

local function describe(info)
	return ("%s: realm %s, %d secret(s), listening port %d%s"):format(info.path, info.realm,
		info.secrets, info.listening_port, info.tls and (", TLS port "..info.tls_listening_port) or "");
end

local function log_notices(module, info)
	for _, notice in ipairs(info.notices) do
		module:log("info", "turnpike config: %s", notice);
	end
end

function relay_config:apply_ttl_cap()
	local module = self.ctx.module;
	self.ttl = self.ctx.options.ttl;
	if not self.config then return; end
	local cap = self.info.max_credential_ttl;
	if cap > 0 and self.ttl > cap then
		module:log("warn", "The credential TTL (%d s) is more than max-credential-ttl=%d in %s; the relay "
			.."would refuse such credentials, so they are minted for %d s", self.ttl, cap, self.config:path(), cap);
		self.ttl = cap;
	end
end

-- (Re)loads the file named by ctx.options.config_path. The periodic check (`quiet`) reports a
-- problem once, not every time it looks; a start or an explicit reload always reports it.
function relay_config:load(why, quiet)
	local module, turnpike = self.ctx.module, self.ctx.turnpike;
	local path = self.ctx.options.config_path;
	if not path then
		self.config, self.info, self.error = nil, nil, nil;
	elseif self.config and self.config:path() == path then
		local ok, changed_or_err, signing_changed = self.config:reload();
		if ok then
			self.info = self.config:info();
			if changed_or_err then
				module:log("info", "Reloaded turnpike config (%s) %s%s", why, describe(self.info),
					signing_changed and "; new credentials are signed with the newest secret" or "");
				log_notices(module, self.info);
			elseif self.error then
				module:log("info", "turnpike config %s is usable again", path);
			end
			self.error = nil;
		elseif not quiet or changed_or_err ~= self.error then
			self.error = changed_or_err;
			module:log("error", "Cannot reload turnpike config (%s): %s; still using what was read before",
				why, changed_or_err);
		end
	else
		local cfg, err = turnpike.load_config(path);
		if cfg then
			self.config, self.info, self.error = cfg, cfg:info(), nil;
			module:log("info", "Using turnpike config %s", describe(self.info));
			log_notices(module, self.info);
		elseif not quiet or err ~= self.error then
			self.error = err;
			module:log("error", "Cannot use turnpike config: %s (option turnpike_config). "
				.."Its services are left out until the file is fixed; it is checked again when it changes "
				.."and on config reload", err);
		end
	end
	self:apply_ttl_cap();
end

-- Credentials signed with the newest secret: pcall's results (true, {username, password,
-- expires}) or (false, why). Never longer than max-credential-ttl, which the relay would refuse.
function relay_config:mint(user, ttl, now)
	if not self.config then
		return false, "no secret: set external_service_secret or turnpike_config";
	end
	local cap = self.info.max_credential_ttl;
	if cap > 0 and ttl > cap then ttl = cap; end
	return pcall(self.config.mint, self.config, user, ttl, now);
end

local function new(ctx)
	return setmetatable({ ctx = ctx }, relay_config);
end

return { new = new };
