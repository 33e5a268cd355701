using LlmKit.Embeddings;
using LlmKit.Plugins.Compression.History;
using LlmKit.Plugins.Compression.Scoring;
using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.Compression.Tests;

/// <summary>
/// The question-aware coarse-to-fine mode on small fixed inputs: ranking order with BM25, with the real stories260K
/// scorer and with hashing embeddings; forced patterns, numbers and named entities surviving dropped segments; speaker
/// roles and the instruction kept.
/// </summary>
public sealed class QuestionAwareCompressionTests
{
    private const string Question = "What did Lily put in the blue box?";

    // Eight sentences; the fourth (index 3) holds the question's content.
    private static readonly string[] Sentences =
    [
        "The food was cold and the waiter never came back.",
        "Tom ran to the park with his dog and they played all day.",
        "I would not recommend this place to anyone.",
        "Lily put her red ball in the blue box under the bed.",
        "The sun was hot, so the children went to swim in the lake.",
        "Great service and the prices were fair.",
        "Mom baked a big cake and everyone was happy.",
        "The battery died after two days of use.",
    ];

    private static string Text => string.Join(' ', Sentences);

    private static PromptCompressor Fallback(PromptCompressionOptions? options = null) =>
        new(new StatisticalTokenScorer(HistoryFixtures.Tokenizer, ReviewText.Sentences.Take(300)), options);

    private static List<string> Segments() => Sentences.Select(s => s + " ").ToList();

    [Fact]
    public void Bm25_ranks_the_sentence_with_the_question_words_first()
    {
        double[] scores = Bm25Ranker.Score(Question, Sentences);
        int best = Array.IndexOf(scores, scores.Max());
        Assert.Equal(3, best);
        // It shares "lily", "put", "in", "the", "blue", "box"; the runner-up shares only stop words, so the margin is wide.
        Assert.True(scores[3] > 2 * scores.Where((_, i) => i != 3).Max(), string.Join(", ", scores));
        // Sentences sharing no word score exactly 0.
        Assert.Equal(0, Bm25Ranker.Score("zebra", Sentences).Max());
    }

    [Theory]
    [InlineData(SegmentRanking.LogProbability)]
    [InlineData(SegmentRanking.Bm25)]
    [InlineData(SegmentRanking.LogProbabilityAndBm25)]
    public async Task Stories260K_ranks_the_segment_that_answers_the_question_first(SegmentRanking ranking)
    {
        var compressor = new PromptCompressor(Stories.Scorer, new PromptCompressionOptions { SegmentRanking = ranking });
        double[] scores = await compressor.RankAsync(Question, Segments(), CancellationToken.None);
        int[] order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ToArray();
        Assert.Equal(3, order[0]);
    }

    [Fact]
    public async Task Hashing_embeddings_rank_the_segment_that_answers_the_question_first()
    {
        var compressor = new PromptCompressor(Stories.Scorer, new HashingEmbeddingGenerator(), new PromptCompressionOptions());
        double[] scores = await compressor.RankAsync(Question, Segments(), CancellationToken.None);
        Assert.Equal(3, Array.IndexOf(scores, scores.Max()));
    }

    [Fact]
    public async Task Question_aware_compression_keeps_the_answering_sentence_whole_and_drops_unrelated_ones()
    {
        var options = new PromptCompressionOptions { KeepDigits = false };
        var compressor = new PromptCompressor(Stories.Scorer, options);
        var prompt = new PromptParts(null, [Text], null) { Query = Question };
        int total = compressor.CountTokens(Text);
        CompressionResult result = await compressor.CompressAsync(prompt, CompressionTarget.Rate(0.25));

        Assert.Contains(Sentences[3], result.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(Question, result.Text, StringComparison.Ordinal); // a Query is used for ranking, not printed
        Assert.True(result.CompressedTokens <= Math.Ceiling(total * 0.25), $"{result.CompressedTokens} of {total} tokens");
        Assert.Equal(compressor.CountTokens(result.Text), result.CompressedTokens);

        // Without the question the same budget is spread over every sentence, and the answer does not survive whole.
        CompressionResult blind = await compressor.CompressAsync(Text, CompressionTarget.Rate(0.25));
        Assert.DoesNotContain(Sentences[3], blind.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Numbers_patterns_and_named_entities_survive_in_dropped_segments()
    {
        var options = new PromptCompressionOptions { KeepNamedEntities = true, SegmentRanking = SegmentRanking.Bm25 };
        options.ForceKeepPatterns.Add(@"\bref-[a-z]+\b");
        PromptCompressor compressor = Fallback(options);
        string text = string.Join(' ',
            "The order shipped late, ticket ref-alpha was opened.",
            "We then drove to see Paris in the rain.",
            "Lily put her red ball in the blue box under the bed.",
            "The invoice said 1,250 dollars were due by 2024-05-01.",
            "It was quiet and the staff barely spoke.",
            "I will never come back here again.",
            string.Join(' ', ReviewText.Sentences.Skip(60).Take(12)));
        CompressionResult result = await compressor.CompressAsync(new PromptParts(null, [text], Question), CompressionTarget.Rate(0.3));

        Assert.Contains("ref-alpha", result.Text, StringComparison.Ordinal);
        Assert.Contains("Paris", result.Text, StringComparison.Ordinal);
        Assert.Contains("1,250", result.Text, StringComparison.Ordinal);
        Assert.Contains("2024-05-01", result.Text, StringComparison.Ordinal);
        Assert.Contains("Lily put her red ball in the blue box", result.Text, StringComparison.Ordinal);
        Assert.EndsWith(Question, result.Text, StringComparison.Ordinal);
        Assert.True(result.Ratio < 0.6, $"ratio {result.Ratio:0.000}");
    }

    [Fact]
    public void Named_entities_are_capitalised_words_that_do_not_start_a_sentence_or_line()
    {
        const string text = "It was quiet. We met Paris and Tom, then Anne-Marie.\nLater Bob left; Oslo waited.";
        bool[] marks = new ForcedCharacters(new PromptCompressionOptions { KeepNamedEntities = true, KeepDigits = false, KeepLineStructure = false }).Mark(text);
        string kept = string.Concat(text.Select((c, i) => marks[i] ? c : '_'));
        var words = kept.Split('_', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["Paris", "Tom", "Anne-Marie", "Bob", "Oslo"], words);
    }

    [Fact]
    public async Task Speaker_roles_and_the_instruction_survive_question_aware_compression_of_a_chat()
    {
        const string instruction = "System: You are a terse assistant for the harbour office.";
        var lines = new List<string>();
        for (int i = 0; i < 30; i++)
        {
            lines.Add((i % 2 == 0 ? "User: " : "Assistant: ") + ReviewText.Sentences[i + 20]);
        }

        lines[7] = "Assistant: Your berth is on pier seven, next to the blue crane.";
        string dialogue = string.Join('\n', lines);
        var prompt = new PromptParts(instruction, [dialogue], "User: Which pier is my berth on?");
        CompressionResult result = await new PromptCompressor(Stories.Scorer).CompressAsync(prompt, CompressionTarget.Rate(0.3));

        Assert.StartsWith(instruction + "\n\n", result.Text, StringComparison.Ordinal);
        Assert.EndsWith("\n\nUser: Which pier is my berth on?", result.Text, StringComparison.Ordinal);
        string[] outLines = result.Text[(instruction.Length + 2)..^("User: Which pier is my berth on?".Length + 2)].Split('\n');
        Assert.Equal(lines.Count, outLines.Length); // every turn keeps its line and its speaker label, in order
        for (int i = 0; i < lines.Count; i++)
        {
            Assert.StartsWith(lines[i].Split(' ')[0], outLines[i], StringComparison.Ordinal);
        }

        Assert.True(result.Text.Contains("berth is on pier seven", StringComparison.Ordinal), result.Text);
        Assert.True(result.Ratio < 0.45, $"ratio {result.Ratio:0.000}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Compressing_reducer_recalls_the_old_turn_the_newest_question_needs(bool questionAware)
    {
        var random = new Random(40);
        var messages = new List<ChatMessage> { new(ChatRole.System, HistoryFixtures.Instruction) };
        for (int turn = 1; turn <= 40; turn++)
        {
            string user = turn switch
            {
                3 => "My parcel has not arrived yet; my order number is 4471.",
                40 => "What was my order number again?",
                _ => HistoryFixtures.Sentence(random, 8, 20),
            };
            messages.Add(new ChatMessage(ChatRole.User, user));
            if (turn < 40)
            {
                messages.Add(new ChatMessage(ChatRole.Assistant, HistoryFixtures.Sentence(random, 8, 20)));
            }
        }

        var reducer = new CompressingHistoryReducer(Fallback(), new CompressingHistoryReducerOptions { MaxTokens = 256, QuestionAware = questionAware });
        List<ChatMessage> reduced = [.. await reducer.ReduceAsync(messages, CancellationToken.None)];

        Assert.Same(messages[0], reduced[0]); // the instruction, verbatim and first
        Assert.Same(messages[^1], reduced[^1]); // the live question, untouched
        Assert.True(HistoryFixtures.Count(reduced, new HistoryReducerOptions()) <= 256);
        ChatMessage? recalled = reduced.SingleOrDefault(m => m.Text.Contains("4471", StringComparison.Ordinal));
        if (questionAware)
        {
            Assert.NotNull(recalled);
            Assert.Equal(ChatRole.User, recalled.Role); // the speaker is kept
            Assert.Equal(HistoryTags.Recalled, HistoryFixtures.Tag(recalled));
            Assert.Equal(1, reduced.IndexOf(recalled));
        }
        else
        {
            Assert.Null(recalled); // dropped with the oldest turns
        }
    }

    [Fact]
    public void Segments_tile_the_text_at_sentence_and_line_ends()
    {
        const string text = "One. Two! \"Three?\" Four\nFive six seven eight nine ten";
        List<(int Start, int End)> spans = TextSegments.Split(text, 16);
        Assert.Equal(text, string.Concat(spans.Select(s => text[s.Start..s.End])));
        Assert.Equal(["One. ", "Two! ", "\"Three?\" ", "Four\n", "Five six seven ", "eight nine ten"], spans.Select(s => text[s.Start..s.End]));
    }

    [Fact]
    public void Invalid_segment_options_name_the_option()
    {
        Assert.Equal("SegmentRetention", Assert.Throws<ArgumentOutOfRangeException>(() => new PromptCompressionOptions { SegmentRetention = 0.5 }.Validate()).ParamName);
        Assert.Equal("MaxSegmentCharacters", Assert.Throws<ArgumentOutOfRangeException>(() => new PromptCompressionOptions { MaxSegmentCharacters = 4 }.Validate()).ParamName);
        Assert.Equal("SegmentRanking", Assert.Throws<ArgumentOutOfRangeException>(() => new PromptCompressionOptions { SegmentRanking = (SegmentRanking)42 }.Validate()).ParamName);
    }

    [Fact]
    public async Task Embedding_ranking_without_a_generator_says_what_is_missing()
    {
        var compressor = new PromptCompressor(Stories.Scorer, new PromptCompressionOptions { SegmentRanking = SegmentRanking.Embedding });
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => compressor.CompressAsync(new PromptParts(null, [Text], Question), CompressionTarget.Rate(0.3)));
        Assert.Contains("embedding generator", error.Message, StringComparison.Ordinal);
    }
}
