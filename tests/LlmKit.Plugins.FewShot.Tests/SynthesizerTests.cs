using LlmKit.Plugins.FewShot.Synthesis;
using Microsoft.Extensions.AI;
using Moq;

namespace LlmKit.Plugins.FewShot.Tests;

public class SynthesizerTests
{
    private static readonly FewShotExample[] Seeds =
    [
        TestSupport.Example("Translate 'cat' into French", "chat"),
        TestSupport.Example("Translate 'dog' into Spanish", "perro"),
    ];

    /// <summary>The chat model is the edge: Moq plays back scripted replies and records the prompts.</summary>
    private static (Mock<IChatClient> Mock, List<string> Prompts) ScriptedModel(params string[] replies)
    {
        var prompts = new List<string>();
        var queue = new Queue<string>(replies);
        var mock = new Mock<IChatClient>();
        mock.Setup(c => c.GetResponseAsync(It.IsAny<IEnumerable<ChatMessage>>(), It.IsAny<ChatOptions?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((IEnumerable<ChatMessage> m, ChatOptions? _, CancellationToken _) =>
            {
                prompts.Add(m.Single().Text);
                return new ChatResponse(new ChatMessage(ChatRole.Assistant, queue.Count > 0 ? queue.Dequeue() : "{}"));
            });
        return (mock, prompts);
    }

    [Fact]
    public async Task Self_instruct_keeps_novel_pairs_and_rejects_near_duplicates_and_junk()
    {
        var (model, prompts) = ScriptedModel(
            "{\"input\": \"Translate 'cat' into German\", \"output\": \"Katze\"}",     // ROUGE-L vs seed 1 = 4/5 = 0.8 ≥ 0.7: rejected
            "Sure! Here it is: {\"input\": \"Summarise the plot of Hamlet in one line\", \"output\": \"A prince avenges his father.\"}",
            "I cannot do that.",                                                      // no JSON: malformed
            "```json\n{\"input\": \"Name three primary colours\", \"output\": \"red, blue, yellow\"}\n```");
        var synthesizer = new ExampleSynthesizer(model.Object, new ExampleSynthesizerOptions { ExamplesPerPrompt = 2, Seed = 1 });

        var result = await synthesizer.SynthesizeAsync(Seeds, count: 2);

        Assert.Equal(["Summarise the plot of Hamlet in one line", "Name three primary colours"], result.Examples.Select(e => e.Input));
        Assert.Equal("A prince avenges his father.", result.Examples[0].Output);
        Assert.Equal((4, 1, 1), (result.Attempts, result.RejectedAsSimilar, result.RejectedAsMalformed));
        Assert.Contains("Translate 'cat' into French", prompts[0], StringComparison.Ordinal); // seeds are shown to the model
        Assert.Contains("\"input\"", prompts[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_candidate_similar_to_an_earlier_candidate_is_rejected_too()
    {
        var (model, _) = ScriptedModel(
            "{\"input\": \"Write a haiku about autumn leaves\", \"output\": \"...\"}",
            "{\"input\": \"Write a haiku about the autumn leaves\", \"output\": \"...\"}", // F1 with the first = 2·6/(6+7) ≈ 0.92
            "{\"input\": \"List the planets of the solar system\", \"output\": \"Mercury, ...\"}");
        var result = await new ExampleSynthesizer(model.Object).SynthesizeAsync(Seeds, count: 2);
        Assert.Equal(["Write a haiku about autumn leaves", "List the planets of the solar system"], result.Examples.Select(e => e.Input));
        Assert.Equal(1, result.RejectedAsSimilar);
    }

    [Fact]
    public async Task Gives_up_after_the_attempt_limit()
    {
        var (model, _) = ScriptedModel(); // every reply is "{}": malformed
        var result = await new ExampleSynthesizer(model.Object, new ExampleSynthesizerOptions { MaxAttemptsPerExample = 3 }).SynthesizeAsync(Seeds, count: 2);
        Assert.Empty(result.Examples);
        Assert.Equal(6, result.Attempts);
        Assert.Equal(6, result.RejectedAsMalformed);
    }

    [Fact]
    public async Task Magpie_generates_requests_from_the_user_turn_prefix_and_answers_them()
    {
        var (model, prompts) = ScriptedModel("Paris.", "Water boils at 100 °C at sea level.");
        var raw = new Queue<string>(["What is the capital of France?<|end|>\n<|assistant|>", "What's the capital of France?<|end|>", "At what temperature does water boil?<|end|>"]);
        var rawPrompts = new List<string>();
        Task<string> Complete(string prompt, CancellationToken _)
        {
            rawPrompts.Add(prompt);
            return Task.FromResult(raw.Dequeue());
        }

        var result = await new ExampleSynthesizer(model.Object).SynthesizeMagpieAsync(Complete, MagpieTemplate.Phi3, count: 2);

        Assert.All(rawPrompts, p => Assert.Equal("<|user|>\n", p)); // the model sees only the template's user-turn prefix
        Assert.Equal(
            [("What is the capital of France?", "Paris."), ("At what temperature does water boil?", "Water boils at 100 °C at sea level.")],
            result.Examples.Select(e => (e.Input, e.Output)));
        Assert.Equal(1, result.RejectedAsSimilar); // the rephrased capital question never reached the chat model
        Assert.Equal(["What is the capital of France?", "At what temperature does water boil?"], prompts);
    }

    [Fact]
    public async Task Text_generation_service_adapter_passes_the_prefix_verbatim()
    {
        var service = new Mock<Microsoft.SemanticKernel.TextGeneration.ITextGenerationService>();
        var settings = new Microsoft.SemanticKernel.PromptExecutionSettings();
        service.Setup(s => s.GetTextContentsAsync("<|im_start|>user\n", settings, null, It.IsAny<CancellationToken>()))
            .ReturnsAsync([new Microsoft.SemanticKernel.TextContent("Tell me a joke.<|im_end|>")]);
        var complete = RawTextCompletions.FromTextGeneration(service.Object, settings);
        Assert.Equal("Tell me a joke.<|im_end|>", await complete(MagpieTemplate.ChatML.UserTurnPrefix, CancellationToken.None));
    }

    [Fact]
    public async Task Arguments_are_validated()
    {
        var model = new Mock<IChatClient>().Object;
        Assert.Equal("MaxRougeL", Assert.Throws<ArgumentOutOfRangeException>(() => new ExampleSynthesizer(model, new ExampleSynthesizerOptions { MaxRougeL = 0 })).ParamName);
        Assert.Equal("ExamplesPerPrompt", Assert.Throws<ArgumentOutOfRangeException>(() => new ExampleSynthesizer(model, new ExampleSynthesizerOptions { ExamplesPerPrompt = 0 })).ParamName);
        var synthesizer = new ExampleSynthesizer(model);
        Assert.Equal("seeds", (await Assert.ThrowsAsync<ArgumentException>(() => synthesizer.SynthesizeAsync([], 1))).ParamName);
        Assert.Equal("count", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => synthesizer.SynthesizeAsync(Seeds, 0))).ParamName);
    }
}
