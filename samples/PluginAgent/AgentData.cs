using System.Text.Json;
using System.Text.Json.Serialization;

namespace PluginAgent;

/// <summary>
/// The sample's own data: the restaurant's fact sheet (the long context), the few-shot pool, the labelled sentiment
/// rows the ordinal head trains on, and the handful of texts that teach moderation the domain. Files live in
/// <c>Data/</c> beside the executable.
/// </summary>
internal sealed class AgentData
{
    /// <summary>The domain the assistant keeps to; also used in the refusal message.</summary>
    public const string Domain = "restaurants, food and dining";

    /// <summary>The ordinal scale, lowest first.</summary>
    public static readonly IReadOnlyList<string> SentimentScale = ["very negative", "negative", "neutral", "positive", "very positive"];

    // Enough for a lexical classifier to separate "asks about this restaurant" from everyday off-topic requests.
    public static readonly IReadOnlyList<string> InDomainExamples =
    [
        "Is the risotto vegetarian?",
        "Book a table for four at 8pm, please.",
        "What time does the kitchen close tonight?",
        "Do you have a menu for children?",
        "Which dishes are gluten free?",
        "How much does the lunch menu cost?",
        "Can I bring my dog to the terrace?",
        "Is the fish soup served every day?",
        "Do you make the desserts yourselves?",
        "Is there parking near the restaurant?",
        "The stew was delicious, thank you for a lovely dinner.",
        "Can we order a vegan main dish?",
    ];

    public static readonly IReadOnlyList<string> OffDomainExamples =
    [
        "My phone battery dies by noon.",
        "Which headset pairs with my laptop?",
        "How do I reset my router password?",
        "What is the capital of Australia?",
        "Write me a poem about the ocean.",
        "Help me fix this Python error in my script.",
        "Which stocks should I buy this year?",
        "How do I change a flat tyre on my bike?",
        "Explain how black holes form.",
        "Translate this email to German for my boss.",
        "My laptop screen flickers after the update.",
        "Who won the football match last night?",
    ];

    private AgentData(string folder, string context, IReadOnlyList<LabelledText> sentimentRows)
    {
        Folder = folder;
        Context = context;
        SentimentRows = sentimentRows;
    }

    /// <summary>The data folder.</summary>
    public string Folder { get; }

    /// <summary>Path of the few-shot pool (JSONL: input, output, label).</summary>
    public string ExamplesPath => Path.Combine(Folder, "examples.jsonl");

    /// <summary>The restaurant's fact sheet: the long context that the compression plugin shortens.</summary>
    public string Context { get; }

    /// <summary>Labelled texts for the sentiment head.</summary>
    public IReadOnlyList<LabelledText> SentimentRows { get; }

    /// <summary>Reads <c>Data/</c> beside the executable.</summary>
    /// <exception cref="FileNotFoundException">A data file is missing (the message names it).</exception>
    /// <exception cref="InvalidDataException">A sentiment row is malformed or uses a label outside <see cref="SentimentScale"/>.</exception>
    public static AgentData Load(string? folder = null)
    {
        folder ??= Path.Combine(AppContext.BaseDirectory, "Data");
        string contextPath = Path.Combine(folder, "restaurant.txt");
        string sentimentPath = Path.Combine(folder, "sentiment.jsonl");
        foreach (string path in new[] { contextPath, sentimentPath, Path.Combine(folder, "examples.jsonl") })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The sample's data file '{path}' is missing; rebuild samples/PluginAgent (Data/ is copied to the output).", path);
            }
        }

        return new AgentData(folder, File.ReadAllText(contextPath).Trim(), ReadSentiment(sentimentPath));
    }

    private static List<LabelledText> ReadSentiment(string path)
    {
        var rows = new List<LabelledText>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            LabelledText? row;
            try
            {
                row = JsonSerializer.Deserialize<LabelledText>(line);
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{path}, line {lineNumber}: not valid JSON ({ex.Message}).", ex);
            }

            if (row is null || string.IsNullOrWhiteSpace(row.Text) || !SentimentScale.Contains(row.Label))
            {
                throw new InvalidDataException($"{path}, line {lineNumber}: expected {{\"text\": ..., \"label\": ...}} with a label among {string.Join(", ", SentimentScale)}.");
            }

            rows.Add(row);
        }

        return rows;
    }
}

/// <summary>One labelled row of <c>sentiment.jsonl</c>.</summary>
/// <param name="Text">The text.</param>
/// <param name="Label">Its label on <see cref="AgentData.SentimentScale"/>.</param>
internal sealed record LabelledText(
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("label")] string Label);
