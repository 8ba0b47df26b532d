-- bench/deploy.sh's fixed input for lua5.4 (WASI stdin, run as `lua -`).
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print(fib(20))
local t = {}
for i = 1, 20000 do t[i] = (i * 7919) % 100003 end
table.sort(t)
print(t[1], t[#t], #t)
local parts = {}
for i = 1, 1000 do parts[#parts + 1] = string.format("%05d", i) end
print(#table.concat(parts, ","), ("hello"):rep(3):upper())
local words = {}
for w in ("the quick brown fox jumps over the lazy dog the end"):gmatch("%a+") do
  words[w] = (words[w] or 0) + 1
end
local keys = {}
for k in pairs(words) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do io.write(k, "=", words[k], " ") end
print()
print(string.format("%.6f %.3e %d", math.sin(1.0), 2 ^ 40 / 3, 7 // 2))
