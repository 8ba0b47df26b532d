-- app.lua — the program of the examples/lua guest (Lua 5.4 on wasm32-wasi).
--
-- Running this file is the guest's start-up work, the part a snapshot saves:
-- it finds the primes below 100,000, builds a catalogue of 5,000 items with
-- names, prices and tags and an index from tag to items, and compiles 250
-- generated scoring functions with load(). Each request then does a few
-- microseconds of work against that state: handle(n) renders item n's JSON
-- line and returns a checksum of it, respond(body) renders one line per
-- integer in body (the WASI `_start` entry writes it to stdout).
--
-- Nothing here may raise a Lua error: in this build an error is an abort,
-- that is a guest trap (examples/lua/wasi/lua_wasi.h). Every result is
-- deterministic (fixed random seed, no iteration over hash order), so the
-- same request gives the same bytes however the state was built.

math.randomseed(20260101, 13)

local SYLLABLES = { "ka", "lo", "mi", "ra", "to", "zu", "ne", "shi", "po", "ve", "da", "gu", "é", "ño" }
local TAGS = { "red", "green", "blue", "small", "large", "new", "used", "sale", "gift", "eco",
  "local", "import", "fragile", "heavy", "light", "kids" }
local ITEMS = 5000
local HANDLERS = 250
local PRIME_LIMIT = 100000

-- Sieve of Eratosthenes.
local composite, primes = {}, {}
for n = 2, PRIME_LIMIT do
  if not composite[n] then
    primes[#primes + 1] = n
    for m = n * n, PRIME_LIMIT, n do composite[m] = true end
  end
end
composite = nil
-- The sieve's table is garbage now; collecting it before the catalogue is
-- built lets the catalogue reuse its memory, which keeps the heap (and so
-- the snapshot) smaller.
collectgarbage("collect")

-- The catalogue: item i's name comes from i's digits in base #SYLLABLES.
local items = {}
for i = 1, ITEMS do
  local parts, x = {}, i
  for k = 1, 3 do
    parts[k] = SYLLABLES[x % #SYLLABLES + 1]
    x = x // #SYLLABLES
  end
  local tags = {}
  for t = 1, #TAGS do
    if (i * 7 + t * 13) % (t % 4 + 3) == 0 then tags[#tags + 1] = TAGS[t] end
  end
  items[i] = {
    id = i,
    name = table.concat(parts, "-"),
    price = math.random(100, 99999),
    stock = math.random(0, 500),
    tags = tags,
  }
end

-- tag -> ids carrying it, in id order.
local by_tag = {}
for _, tag in ipairs(TAGS) do by_tag[tag] = {} end
for i = 1, ITEMS do
  for _, tag in ipairs(items[i].tags) do
    local list = by_tag[tag]
    list[#list + 1] = i
  end
end

-- 250 scoring functions, each compiled from its own generated source.
local handlers = {}
for k = 1, HANDLERS do
  local source = string.format([[
local k = %d
return function(price, stock, n)
  local a = price * k + n %% %d
  local b = (a ~ %d) %% 1000003
  local s = 0
  for j = 1, %d do s = s + (b + j * stock) %% %d end
  if b %% 2 == 0 then return (s + b // %d) %% 1000000 end
  return (s * 3 + %d) %% 999983
end
]], k, k + 7, (k * 2654435761) % 65536, k % 5 + 1, k % 97 + 3, k % 9 + 1, k)
  local chunk = load(source, "=handler" .. k, "t")
  handlers[k] = chunk()
end

-- Per tag, how many items are in stock (a summary the requests quote).
local in_stock = {}
for _, tag in ipairs(TAGS) do
  local count = 0
  for _, id in ipairs(by_tag[tag]) do
    if items[id].stock > 0 then count = count + 1 end
  end
  in_stock[tag] = count
end

local function render(n)
  local item = items[n % ITEMS + 1]
  local score = handlers[n % HANDLERS + 1](item.price, item.stock, n)
  local tags = {}
  for t, tag in ipairs(item.tags) do
    tags[t] = string.format('"%s":%d', tag, in_stock[tag])
  end
  return string.format(
    '{"n":%d,"id":%d,"name":"%s","chars":%d,"price":"%d.%02d","stock":%d,"tags":{%s},"score":%d,"prime":%d}',
    n, item.id, item.name, utf8.len(item.name), item.price // 100, item.price % 100, item.stock,
    table.concat(tags, ","), score, primes[score % #primes + 1])
end

-- 31-bit FNV-1a of s, so it fits an i32 result.
local function checksum(s)
  local h = 2166136261
  for i = 1, #s do
    h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff
  end
  return h & 0x7fffffff
end

-- Requests this instance has served through handle: 0 in every fresh
-- instance, whatever earlier instances did in the same slot (the isolation
-- check of the example's test).
local served = 0

function handle(n)
  served = served + 1
  return checksum(render(n))
end

function count()
  return served
end

function respond(body)
  local out = {}
  -- At most 9 digits of each number, so it stays an integer.
  for word in body:gmatch("%d+") do
    out[#out + 1] = render(tonumber(word:sub(1, 9)))
  end
  if #out == 0 then
    out[1] = string.format('{"items":%d,"handlers":%d,"primes":%d,"largest_prime":%d}',
      ITEMS, HANDLERS, #primes, primes[#primes])
  end
  return table.concat(out, "\n") .. "\n"
end

-- Leave no garbage behind: the state a snapshot keeps is the live heap, and a
-- request that allocates does not start a collection over it.
collectgarbage("collect")
