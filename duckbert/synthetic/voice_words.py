"""Phrase banks of the realistic review style (`reviews="realistic"`).

Genuine reviews are told in several voices and carry evidence of use: numbers, durations,
other brands, who uses the product and where, praise mixed with complaints. Deceptive ones
imitate them (the same product nouns, openers and ratings) but stay vague: superlatives,
first person, the brand named again and again, templates paraphrased by synonyms, no
concrete detail. The `NOVEL_*` bank is an abuse variant whose words appear in no other
abuse bank (tests/unit/duckbert/test_synthetic_reviews.py checks it), for the held-out
variant rows of the quality benchmark. Placeholders as in review_words, plus {aspect} and
{aspect2} (aspect nouns of the product's group) and {super} (a superlative).
"""

# What people talk about, per product group: genuine reviews name them with details, deceptive
# ones praise them vaguely.
ASPECT_NOUNS = {
    "phone": ["battery", "screen", "camera", "display"], "audio": ["sound", "bass", "fit",
                                                               "microphone"],
    "tv": ["picture", "colours", "remote", "menu"], "watch": ["strap", "battery", "display",
                                                         "tracking"],
    "console": ["controller", "graphics", "games", "fan"], "gpu": ["performance", "fans",
                                                                  "temperatures", "drivers"],
    "laptop": ["keyboard", "screen", "battery", "trackpad"], "mouse": ["grip", "sensor",
                                                                      "buttons", "wheel"],
    "appliance": ["capacity", "controls", "noise level", "finish"],
    "vacuum": ["suction", "battery", "dust bin", "design"], "kettle": ["design", "lid",
                                                                       "handle", "finish"],
    "apparel": ["fit", "material", "colour", "stitching"], "furniture": ["fabric", "frame",
                                                                         "cushions", "design"],
    "toys": ["pieces", "colours", "box", "design"], "bike": ["frame", "gears", "brakes",
                                                             "saddle"],
    "car": ["sound", "display", "installation", "design"], "tools": ["grip", "battery",
                                                                     "motor", "case"],
    "bag": ["zippers", "straps", "pockets", "material"], "printing": ["colours", "print quality",
                                                                      "cartridge", "ink"],
}

# -- genuine voices -----------------------------------------------------------------------

USAGE = [
    "I mostly use it in the evenings after work.", "We keep it in the kitchen of our flat.",
    "It goes with me on the train twice a week.", "My {who} uses it more than I do.",
    "Used it every day for {w} weeks before writing this.", "I take it camping on weekends.",
    "It sits in the spare room and gets used maybe twice a week.",
    "Mostly for work calls and some music in between.", "We share it between three people.",
    "I bought it to replace a {other} that finally died after {d} years.",
    "Ordered on a Tuesday, it arrived on Friday.", "I live in a small flat, so space matters.",
    "Bought it with a discount code, paid a bit less than the list price.",
]
ELABORATE = [
    "That was the main reason I picked it.", "Not a dealbreaker, but worth knowing.",
    "I did not expect that at this price.", "For me that matters more than the looks.",
    "Took me a few days to get used to it.", "Your mileage may vary.",
    "I checked twice to be sure.", "Which is roughly what the listing promised.",
    "My {who} noticed it before I did.", "The manual does not mention this at all.",
    "It was the same on the second unit I tried.", "Fine for my use, maybe not for everyone.",
]
COMPARE = [
    "Compared with my old {other}, {clause}.", "The {other} I had before was worse here: {clause}.",
    "A friend has the {other} version and honestly {clause}.",
    "Coming from a {other}, the difference is that {clause}.",
]
MIXED = [
    "My only real complaint: {clause}.", "On the downside, {clause}.",
    "One thing that annoys me is that {clause}.", "Not everything is great though, {clause}.",
    "If I had to nitpick, {clause}.",
]
LOGISTICS = [
    "Delivery took {d} days and the box was a bit dented, the item itself was fine.",
    "It came well packed, with the charger and a short manual.",
    "The courier left it with a neighbour, no harm done.",
    "Returned the first one because of a scratch, the replacement arrived within {d} days.",
    "Customer service answered my question in about {h} hours.",
]
UPDATE = [
    "Update after {w} weeks: {clause}.", "Edit, {w} weeks later: {clause}.",
    "Two months in, still the same: {clause}.", "Update: {clause}, so I changed my rating.",
]
HEDGES = ["To be fair,", "Honestly,", "For what it's worth,", "So far", "Overall", "Then again,"]
STORY_OPEN = [
    "We needed a {noun} for the new place and spent a weekend comparing options.",
    "My old {other} broke right before a trip, so I ordered this one in a hurry.",
    "I went back and forth between this and the {other} for weeks.",
    "Bought this after reading a lot of reviews, so here is mine.",
    "This was a birthday present for my {who}, who has used it daily since.",
    "Long review, because I wish someone had written it before I bought mine.",
]
TECH_OPEN = [
    "Some numbers first.", "Tested it against my {other} for {w} weeks.",
    "Quick specs check after {d} weeks of use.", "Measured a few things before keeping it.",
]
TERSE = {
    5: ["great", "love it", "perfect thanks", "great {noun}", "very good", "5 stars, works"],
    4: ["good", "good value", "nice", "works fine", "as described", "good but pricey"],
    3: ["ok", "meh", "its fine", "average {noun}", "does the job i guess"],
    2: ["not great", "so so", "could be better", "meh, returning"],
    1: ["bad", "broke after {w} weeks", "doesnt work", "poor quality", "waste"],
}

# -- deceptive, imitating genuine reviews -------------------------------------------------

SUPER = ["amazing", "incredible", "fantastic", "wonderful", "outstanding", "excellent",
         "perfect", "awesome", "superb", "brilliant", "the best"]
DECEPTIVE = [
    "I absolutely love my new {brand} {noun}.", "I am so happy with my {brand} {noun}.",
    "I really love this {noun} and I use it every day.", "The {aspect} is just {super}.",
    "I was blown away by the {aspect}.", "I love the {aspect} and the {aspect2} is {super} too.",
    "My {brand} {noun} is {super} in every way.", "I can't imagine my life without my {noun} now.",
    "I have recommended this {brand} {noun} to all my friends.",
    "My whole family loves it and so do I.", "I would recommend {brand} to anyone.",
    "I have never been this happy with a {noun}.",
    "I trust {brand} and {brand} never lets me down.",
    "Everything about my {noun} feels {super}.", "The quality of the {aspect} is {super}.",
    "I knew {brand} would not disappoint me and I was right.",
    "This is the {super} {noun} I have ever owned.",
    "I feel like I got so much more than I paid for.",
    "I use my {brand} {noun} all the time and I love it more every day.",
    "The {aspect} looks {super} and the {aspect2} works {super}.",
    "I am really impressed with my purchase.", "I bought it for myself and I am thrilled.",
    "I honestly think this {noun} is {super}.", "I will definitely buy {brand} again.",
    "My friends keep asking me about my {noun}.", "It makes my life so much easier.",
    "I can say that {brand} really cares about quality.", "Really happy with this {noun}.",
    "The only thing I regret is not buying my {brand} {noun} sooner.",
    "I did my research and {brand} was the obvious choice for me.",
]
# Paraphrases a deceptive template gets (whole words): a campaign's writers vary the wording.
PARAPHRASE = {
    "love": ["adore", "really like", "love"], "happy": ["pleased", "glad", "satisfied"],
    "impressed": ["amazed", "surprised", "impressed"], "recommend": ["suggest", "recommend"],
    "really": ["truly", "really", "so"], "friends": ["friends", "coworkers", "neighbours"],
    "family": ["family", "household", "kids"], "thrilled": ["delighted", "thrilled", "excited"],
}

# -- a novel abuse variant: words that no other abuse bank uses ---------------------------

NOVEL_FAKE = [
    "Stellar {noun}.", "Impeccable workmanship.", "Overjoyed beyond words.", "Superior finish.",
    "Unbeatable bargain.", "Wholeheartedly endorsed.", "Marvellous gadget.", "Phenomenal.",
    "Gorgeous craftsmanship.", "Splendid {brand}.", "Faultless.", "Magnificent.",
    "Exquisite detailing.", "Unparalleled reliability.", "Terrific acquisition.",
    "Sublime experience.", "Immaculate condition.", "Praiseworthy.", "Stunning {noun}.",
    "Genius engineering.", "Extraordinary.", "Pleasantly astonished.",
]

# Longer voices: what a story or a test report goes on about after the product's aspects.
NARRATIVE = [
    "The first evening we unpacked it together and set it up in about {m} minutes.",
    "My {who} was sceptical at first, now it is the first thing they reach for.",
    "We took it on a {d} day trip to the coast and it held up fine.",
    "I had a similar one from {other} years ago, and this feels like a step up in some ways.",
    "There was one scare when it stopped working, but a restart fixed it.",
    "The shop had it cheaper two weeks later, which stung a little.",
    "After the first month the novelty wore off and it just became part of the routine.",
    "I read the manual properly for once, and it explained a setting I would have missed.",
    "A neighbour borrowed it for a weekend and ended up ordering one too.",
    "Living with it day to day, the small things matter more than the spec sheet.",
    "I kept the box for {w} weeks in case I wanted to return it, then threw it out.",
    "It survived a fall from the table onto a tiled floor with only a small scuff.",
    "We moved house in the middle of all this and it went into storage for {d} days.",
    "When it arrived the battery was at about half, charged it overnight before using it.",
]
TECH_NOTES = [
    "Measured about {h} hours from full to empty with normal use.",
    "Weighed it at home: a little heavier than the listing says.",
    "The firmware updated itself twice in the first {w} weeks.",
    "Power draw on my meter was lower than the {other} it replaced.",
    "Noise is around what a quiet office sounds like, I measured it with an app.",
    "The warranty card says two years, registration took {m} minutes online.",
    "Dimensions match the listing to within a few millimetres.",
    "Ran it for {h} hours straight to see if anything changed, it did not.",
    "Checked the serial number on the manufacturer site, genuine unit.",
    "Cable is about a metre long, shorter than I would like.",
]
