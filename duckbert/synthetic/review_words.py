"""Phrase banks for review texts: product-specific aspects for honest reviews, generic and
promotional phrasing for fake ones. Placeholders: {d} days, {h} hours, {w} weeks, {m} minutes,
{noun}, {brand}, {other} (another brand)."""

# group -> aspects; each aspect is (positive clauses, negative clauses)
ASPECTS = {
    "phone": [
        (["battery easily lasts {d} days", "battery gets me through a full day of heavy use"],
         ["battery is dead by the evening", "battery drains fast with the screen on"]),
        (["screen is bright and sharp even outside", "the display colours look great"],
         ["screen scratches easily", "display is too dim in sunlight"]),
        (["camera takes good photos in daylight", "night mode on the camera is surprisingly good"],
         ["camera is blurry indoors", "photos look washed out"]),
        (["it charges from 0 to 100 in about an hour", "runs smooth, no lag in apps"],
         ["gets hot while charging", "apps freeze after the last update"]),
    ],
    "audio": [
        (["sound is clear with decent bass", "bass is punchy without being muddy"],
         ["sound is tinny at high volume", "bass is weak"]),
        (["comfortable for {h} hours straight", "ear cushions are soft and don't press"],
         ["they hurt my ears after an hour", "too tight on my head"]),
        (["noise cancelling works well on the train", "battery lasts around {h} hours"],
         ["noise cancelling barely does anything", "left earbud keeps disconnecting"]),
        (["microphone is fine for calls", "pairs quickly with my phone"],
         ["people can't hear me on calls", "bluetooth drops every few minutes"]),
    ],
    "tv": [
        (["picture is sharp and the colours are rich", "4k content looks stunning"],
         ["backlight bleeds in the corners", "picture looks grainy on cable channels"]),
        (["smart menu is quick and easy to use", "apps load fast"],
         ["smart menu is slow and full of ads", "wifi drops all the time"]),
        (["setup took about {m} minutes", "stand is sturdy"],
         ["remote stopped working after {w} weeks", "the stand wobbles"]),
        (["built-in sound is good enough for the living room", "thin bezels look nice"],
         ["speakers sound hollow", "one dead pixel in the middle"]),
    ],
    "watch": [
        (["battery lasts about {d} days", "strap is comfortable to sleep with"],
         ["battery barely lasts a day", "the strap broke after {w} weeks"]),
        (["heart rate readings match my chest strap", "step counter seems accurate"],
         ["heart rate jumps around randomly", "step counter counts car rides"]),
        (["display is readable in sunlight", "the app syncs without problems"],
         ["display is hard to read outside", "the app loses the connection"]),
        (["notifications come through instantly", "looks classy with a suit"],
         ["notifications arrive late", "glass scratched in the first week"]),
    ],
    "console": [
        (["controller feels great", "loading times are really short"],
         ["controller drifts already", "the disc drive is noisy"]),
        (["runs every game I tried smoothly", "fan stays quiet even after {h} hours"],
         ["fan is really loud in bigger games", "froze twice during updates"]),
        (["setup took {m} minutes", "box and accessories were complete"],
         ["arrived without the hdmi cable", "the online account setup was a pain"]),
    ],
    "gpu": [
        (["runs every game I tried at high settings", "fans stay quiet under load"],
         ["fans are really loud when gaming", "crashes in some games"]),
        (["temperatures stay under 70 degrees", "installation was plug and play"],
         ["overheats after {h} hours", "drivers gave me trouble"]),
        (["worth every cent for the performance", "fits my case with room to spare"],
         ["coil whine is annoying", "barely fits in my case"]),
    ],
    "laptop": [
        (["keyboard is comfortable for typing all day", "trackpad is precise"],
         ["keyboard flexes in the middle", "trackpad is jumpy"]),
        (["battery lasts {h} hours of office work", "charges quickly"],
         ["battery lasts barely two hours", "charger gets very hot"]),
        (["screen is bright with good colours", "light enough to carry every day"],
         ["screen is dim and washed out", "heavier than it looks"]),
        (["boots in seconds and never lags", "fan is silent most of the time"],
         ["fan spins up constantly", "came with a lot of bloatware"]),
    ],
    "mouse": [
        (["fits my hand well", "the scroll wheel feels precise"],
         ["too small for my hand", "the scroll wheel squeaks"]),
        (["sensor tracks perfectly on my desk", "buttons have a nice click"],
         ["cursor jumps on glossy surfaces", "left button double clicks"]),
        (["wireless connection is stable", "battery lasts for months"],
         ["the receiver loses connection", "cable is stiff"]),
    ],
    "appliance": [
        (["quiet, I barely hear it at night", "uses less energy than my old one"],
         ["very noisy", "makes a humming sound all the time"]),
        (["plenty of space inside", "washes and dries well"],
         ["smaller inside than expected", "leaves the laundry damp"]),
        (["installation took {m} minutes", "controls are simple"],
         ["the door seal leaked after {w} weeks", "shows error codes on the display"]),
    ],
    "vacuum": [
        (["suction is strong even on carpet", "picks up all the pet hair"],
         ["suction is weak on carpet", "clogs with pet hair"]),
        (["battery lasts about {m} minutes", "dust bin is easy to empty"],
         ["battery dies after {m} minutes", "dust bin is tiny"]),
        (["quieter than my old {other}", "light enough to carry upstairs"],
         ["loud enough to scare the cat", "heavy and awkward on stairs"]),
    ],
    "kettle": [
        (["boils a full kettle in about three minutes", "switches off reliably"],
         ["takes forever to boil", "does not switch off by itself"]),
        (["no plastic taste at all", "lid opens easily"],
         ["water tastes of plastic", "lid is hard to open"]),
        (["easy to descale", "looks nice in the kitchen"],
         ["limescale everywhere after {w} weeks", "handle gets hot"]),
    ],
    "apparel": [
        (["fits true to size", "material feels soft and breathable"],
         ["runs a size small", "material feels cheap"]),
        (["comfortable right out of the box", "sole has good grip"],
         ["gave me blisters after a day", "sole started peeling after {w} weeks"]),
        (["stitching is neat", "colour is exactly like the photos"],
         ["seams came apart after one wash", "colour faded after washing"]),
    ],
    "furniture": [
        (["assembly took about {m} minutes", "instructions were clear"],
         ["assembly took the whole evening", "some screws were missing"]),
        (["fabric is soft and easy to clean", "firm but comfortable"],
         ["fabric pills already", "too soft, I sink in"]),
        (["feels solid, no wobbling", "delivery was on the promised day"],
         ["it creaks when you sit down", "arrived with a scratch on the side"]),
    ],
    "toys": [
        (["my {who} plays with it every day", "pieces fit together well"],
         ["my {who} lost interest after a day", "pieces don't click together"]),
        (["instructions are easy to follow", "good for ages 6 and up"],
         ["instructions are confusing", "a part broke on day one"]),
        (["kept the kids busy for {h} hours", "sturdy plastic"],
         ["cheap plastic with sharp edges", "smaller than in the picture"]),
    ],
    "bike": [
        (["gears shift smoothly", "brakes are strong"],
         ["gears slip on hills", "brakes squeal"]),
        (["frame is light and stiff", "saddle is comfortable for long rides"],
         ["frame is heavy", "saddle is uncomfortable after {m} minutes"]),
        (["assembly was easy", "rode {d}0 km without any issue"],
         ["came badly adjusted", "a spoke broke in the first week"]),
    ],
    "car": [
        (["bluetooth pairs instantly", "sound is much better than the stock one"],
         ["bluetooth keeps disconnecting", "sound distorts at high volume"]),
        (["installation took {m} minutes", "display is readable in sunlight"],
         ["wiring diagram was wrong", "display is unreadable in the sun"]),
        (["usb charging works", "radio reception is good"],
         ["usb port is loose", "radio reception is poor"]),
    ],
    "tools": [
        (["battery lasts a full day of work", "plenty of torque for hardwood"],
         ["battery died after {m} minutes", "struggles with concrete"]),
        (["chuck holds bits tight", "case is sturdy"],
         ["chuck wobbles", "case latches broke"]),
        (["comfortable grip", "charger is fast"],
         ["very heavy for overhead work", "charger got hot and stopped"]),
    ],
    "bag": [
        (["zippers are smooth and solid", "lots of compartments"],
         ["zipper broke after {w} weeks", "fewer pockets than described"]),
        (["straps are comfortable", "fits a 15 inch laptop"],
         ["straps dig into the shoulders", "my laptop barely fits"]),
        (["material is water resistant", "looks great"],
         ["material smells of chemicals", "stitching came loose"]),
    ],
    "printing": [
        (["prints crisp and clear", "printed around {d}00 pages so far"],
         ["prints streaky", "ran out after 100 pages"]),
        (["recognised by my printer immediately", "colours are accurate"],
         ["printer says it's not compatible", "colours are off"]),
    ],
}

OPENERS = {
    5: ["Really happy with this {noun}.", "Great {noun}.", "Very pleased so far.",
        "Excellent {noun} for the money.", "Love it.", ""],
    4: ["Good {noun} overall.", "Pretty good.", "Nice {noun}, a few small issues.",
        "Solid choice.", ""],
    3: ["It's ok.", "Mixed feelings about this {noun}.", "Average.", "Does the job.", ""],
    2: ["Not great.", "Somewhat disappointed.", "Expected more.", ""],
    1: ["Very disappointed.", "Returned it.", "Not happy at all.", ""],
}
CONTEXT = [
    "Bought it for my {who}.", "Using it for {w} weeks now.", "Replaced my old {other} with it.",
    "My second {brand} so far.", "Got it on sale.", "Ordered the black one.",
    "Compared it with the {other} before buying.", "Had it for about a month.",
    "Picked it up in store after ordering online.",
]
CLOSERS = {
    5: ["Would buy again.", "Recommended.", "Worth the money.", ""],
    4: ["Would buy again.", "Good value.", "Happy overall.", ""],
    3: ["Fine for the price.", "Not sure I'd buy it again.", "Ok for occasional use.", ""],
    2: ["Probably returning it.", "Expected more from {brand}.", "Not worth the price.", ""],
    1: ["Returning it.", "Support was not helpful.", "Waste of money in my case.", ""],
}
SHORT = {
    5: ["great", "Love it", "perfect, thanks", "Great {noun}.", "very good"],
    4: ["good", "Good value for money", "nice", "works fine", "as described"],
    3: ["ok", "meh", "it's fine", "average {noun}"],
    2: ["not great", "so so", "could be better"],
    1: ["bad", "broke after {w} weeks", "doesn't work", "poor quality"],
}
WHO = ["son", "daughter", "wife", "husband", "mum", "dad", "nephew", "office", "kid"]

# Promotional, generic praise: no product detail, pushes the reader to buy.
PROMO = [
    "Absolutely love it!", "Best purchase I have made this year!", "Exceeded all my expectations.",
    "Highly recommend to everyone!", "You won't regret buying it.", "Top quality, five stars!",
    "Amazing value, don't hesitate.", "A must-have!",
    "Seller is fantastic and shipping was super fast.",
    "Will definitely buy again and tell all my friends.", "Perfect in every way.",
    "Simply the best {noun} on the market.", "Incredible quality for this price!",
    "Don't think twice, just buy it.", "Ten out of ten!",
    "Great product, great seller, great price!",
    "Worth every penny!", "This {noun} changed my life.", "{brand} never disappoints!",
    "Exactly what I needed, highly recommended.", "Fantastic! Buy it now before it sells out.",
    "Outstanding product, totally worth it.", "I recommend this {noun} to everyone I know.",
    "Superb quality and amazing service.", "Five stars well deserved!",
    "Best {brand} product ever.", "Couldn't be happier, everyone should have one.",
]
# Vague quality claims a careful faker adds to look genuine (still nothing specific).
VAGUE = [
    "quality is top notch.", "works perfectly.", "looks even better than in the pictures.",
    "arrived quickly and well packed.", "the quality is amazing.", "everything works great.",
    "very good build.", "feels premium.",
]
# Ring campaigns: near-identical posts across accounts.
RING = [
    "BEST {NOUN} EVER!!! Amazing quality, super fast delivery, buy it now, 5 stars!!!",
    "Great {noun}, great price, highly recommend this seller! 5 stars",
    "I love this {noun}!!! Perfect quality, perfect price, everyone should buy it!!",
    "Excellent product!!! Works perfect, fast shipping, recommend 100%!!!",
    "Wow!!! Best {brand} {noun} I ever had. Must buy!!!",
    "Super {noun}! Top quality! Top seller! Buy now, you will not regret!!!",
]
RING_SWAPS = {"amazing": "awesome", "great": "excellent", "best": "greatest", "buy": "order",
              "fast": "quick", "perfect": "flawless", "love": "adore", "super": "very"}
# Brushing buyers post short, generic confirmations of a purchase that never shipped.
BRUSH = [
    "Received, all good.", "Good product, fast delivery.", "Everything fine, thank you!",
    "Quality ok, recommend seller.", "Item as described, 5 stars.", "Arrived fast, works.",
    "Good seller, good {noun}.", "All ok, thanks seller.",
]
