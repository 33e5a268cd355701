using LlmKit.Plugins.Compression.History;
using LlmKit.Plugins.Compression.Scoring;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;
using SK = Microsoft.SemanticKernel;

namespace LlmKit.Plugins.Compression.Tests;

/// <summary>Random but seeded conversations with tool calls, built for both M.E.AI and Semantic Kernel.</summary>
internal static class HistoryFixtures
{
    public const string Instruction = "You are a terse assistant for the harbour office. Always answer in English.";

    public static readonly WordTokenizer Tokenizer = new();

    private static readonly string[] Vocabulary = ReviewText.Sentences.SelectMany(s => s.Split(' ')).Where(w => w.Length > 0).Take(3000).ToArray();

    /// <summary>One turn: a user message, optionally an assistant tool call with its results, and an assistant reply.</summary>
    public static List<ChatMessage> Turn(Random random, int index)
    {
        var turn = new List<ChatMessage> { new(ChatRole.User, Sentence(random, 3, 25)) };
        if (random.NextDouble() < 0.4)
        {
            int calls = random.Next(1, 4);
            var callContents = new List<AIContent>();
            for (int c = 0; c < calls; c++)
            {
                callContents.Add(new FunctionCallContent($"call-{index}-{c}", c % 2 == 0 ? "get_tide" : "get_weather", new Dictionary<string, object?> { ["port"] = Sentence(random, 1, 2) }));
            }

            turn.Add(new ChatMessage(ChatRole.Assistant, callContents));
            // Results arrive in any order, sometimes two in one tool message.
            foreach (int c in Enumerable.Range(0, calls).OrderBy(_ => random.Next()))
            {
                turn.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent($"call-{index}-{c}", Sentence(random, 2, 12))]));
            }
        }

        turn.Add(new ChatMessage(ChatRole.Assistant, Sentence(random, 3, 30)));
        return turn;
    }

    public static List<ChatMessage> Conversation(int seed, int turns)
    {
        var random = new Random(seed);
        var messages = new List<ChatMessage> { new(ChatRole.System, Instruction) };
        for (int t = 0; t < turns; t++)
        {
            messages.AddRange(Turn(random, t));
        }

        return messages;
    }

    public static string Sentence(Random random, int min, int max) =>
        string.Join(' ', Enumerable.Range(0, random.Next(min, max + 1)).Select(_ => Vocabulary[random.Next(Vocabulary.Length)]));

    /// <summary>The same messages as Semantic Kernel content.</summary>
    public static List<SK.ChatMessageContent> ToSemanticKernel(IEnumerable<ChatMessage> messages) =>
        messages.Select(m =>
        {
            var items = new SK.ChatCompletion.ChatMessageContentItemCollection();
            foreach (AIContent content in m.Contents)
            {
                switch (content)
                {
                    case TextContent text:
                        items.Add(new SK.TextContent(text.Text));
                        break;
                    case FunctionCallContent call:
                        items.Add(new SK.FunctionCallContent(call.Name, "harbour", call.CallId, new SK.KernelArguments(call.Arguments!)));
                        break;
                    case FunctionResultContent result:
                        items.Add(new SK.FunctionResultContent("harbour_fn", "harbour", result.CallId, result.Result));
                        break;
                }
            }

            var role = m.Role == ChatRole.System ? SK.ChatCompletion.AuthorRole.System
                : m.Role == ChatRole.User ? SK.ChatCompletion.AuthorRole.User
                : m.Role == ChatRole.Tool ? SK.ChatCompletion.AuthorRole.Tool
                : SK.ChatCompletion.AuthorRole.Assistant;
            return new SK.ChatMessageContent(role, items);
        }).ToList();

    public static int Count(IEnumerable<ChatMessage> messages, HistoryReducerOptions options) =>
        new HistoryComposer<ChatMessage>(ExtensionsAIMessageAdapter.Instance, Tokenizer, options).Count(messages);

    public static int Count(IEnumerable<SK.ChatMessageContent> messages, HistoryReducerOptions options) =>
        new HistoryComposer<SK.ChatMessageContent>(SemanticKernelMessageAdapter.Instance, Tokenizer, options).Count(messages);

    /// <summary>Asserts that every function result follows its call and every call keeps all the results the input had.</summary>
    public static void AssertNoOrphans(IReadOnlyList<ChatMessage> input, IReadOnlyList<ChatMessage> output)
    {
        var seenCalls = new HashSet<string>();
        foreach (ChatMessage message in output)
        {
            foreach (AIContent content in message.Contents)
            {
                if (content is FunctionCallContent call)
                {
                    seenCalls.Add(call.CallId);
                }
                else if (content is FunctionResultContent result)
                {
                    Assert.True(seenCalls.Contains(result.CallId), $"result {result.CallId} has no preceding call");
                }
            }
        }

        var inputResults = input.SelectMany(m => m.Contents.OfType<FunctionResultContent>()).Select(r => r.CallId).ToHashSet();
        var outputResults = output.SelectMany(m => m.Contents.OfType<FunctionResultContent>()).Select(r => r.CallId).ToHashSet();
        foreach (string call in seenCalls.Where(inputResults.Contains))
        {
            Assert.True(outputResults.Contains(call), $"call {call} lost its result");
        }
    }

    public static void AssertNoOrphans(IReadOnlyList<SK.ChatMessageContent> input, IReadOnlyList<SK.ChatMessageContent> output)
    {
        var seenCalls = new HashSet<string>();
        foreach (SK.ChatMessageContent message in output)
        {
            foreach (SK.KernelContent content in message.Items)
            {
                if (content is SK.FunctionCallContent call)
                {
                    seenCalls.Add(call.Id!);
                }
                else if (content is SK.FunctionResultContent result)
                {
                    Assert.True(seenCalls.Contains(result.CallId!), $"result {result.CallId} has no preceding call");
                }
            }
        }

        var inputResults = input.SelectMany(m => m.Items.OfType<SK.FunctionResultContent>()).Select(r => r.CallId!).ToHashSet();
        var outputResults = output.SelectMany(m => m.Items.OfType<SK.FunctionResultContent>()).Select(r => r.CallId!).ToHashSet();
        foreach (string call in seenCalls.Where(inputResults.Contains))
        {
            Assert.True(outputResults.Contains(call), $"call {call} lost its result");
        }
    }

    public static string? Tag(ChatMessage message) => message.AdditionalProperties?.TryGetValue(HistoryTags.Key, out object? v) == true ? v?.ToString() : null;

    public static string? Tag(SK.ChatMessageContent message) => message.Metadata?.TryGetValue(HistoryTags.Key, out object? v) == true ? v?.ToString() : null;
}
