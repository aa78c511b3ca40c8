-- Argo CD health of a CoexNumber, read from the kstatus conditions the operator keeps:
-- Stalled=True (Failed, ReonboardRequired, Offboarded) is Degraded, Ready=True (Active) is
-- Healthy, spec.suspend is Suspended, anything else (Pending, Verifying, Syncing) Progressing.
local hs = { status = "Progressing", message = "Waiting for the operator" }
if obj.status == nil then
  return hs
end
local gen = obj.metadata.generation
local seen = obj.status.observedGeneration
if gen ~= nil and (seen == nil or seen < gen) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(gen)
  return hs
end
local phase = obj.status.phase or "Pending"
local byType = {}
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    byType[c.type] = c
  end
end
local function say(c)
  if c.message ~= nil and c.message ~= "" then
    return phase .. ": " .. c.message
  end
  return phase .. ": " .. (c.reason or "")
end
local stalled = byType["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = say(stalled)
  return hs
end
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = phase .. ": spec.suspend is true; no sync is requested"
  return hs
end
local ready = byType["Ready"]
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = say(ready)
  return hs
end
local reconciling = byType["Reconciling"]
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = say(reconciling)
elseif ready ~= nil then
  hs.message = say(ready)
else
  hs.message = phase
end
return hs
