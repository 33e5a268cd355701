using LlmKit.Hosting;
using LlmKit.Models;
using LlmKit.ModelBuilder;
using LlmKit.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Tests.Chat;

/// <summary>
/// The M.E.AI chat client and the Semantic Kernel service batch overlapping requests on their own (configured through
/// <c>LlmKit:MaxBatchSize</c>), and each reply is the one the request gets with batching off. Real stories260K in the
/// official GQA form.
/// </summary>
public class BatchedChatTests
{
    private static readonly string[] Questions = ["Once upon a time", "Tom had a big dog", "The little bird sang", "Lily saw a cat"];

    internal static ServiceProvider Services(int maxBatchSize) =>
        new ServiceCollection()
            .AddLlmKit(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ModelPath"] = TestModels.Stories260KFolderFor(OnnxGraphForm.OrtGenAI),
                ["IntraOpThreads"] = "1",
                ["ReusePromptPrefixes"] = "false",
                ["ChatTemplate"] = "None",
                ["MaxBatchSize"] = maxBatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            }).Build())
            .BuildServiceProvider();

    [Fact]
    public async Task Overlapping_chat_client_and_kernel_requests_share_decode_runs_and_reply_as_alone()
    {
        await using var batched = Services(maxBatchSize: 4);
        await using var alone = Services(maxBatchSize: 1);
        var model = batched.GetRequiredService<OnnxGenAIModel>();
        Assert.Equal(4, model.MaxBatchSize);
        Assert.Equal(1, alone.GetRequiredService<OnnxGenAIModel>().MaxBatchSize);
        var chatOptions = new ChatOptions { Temperature = 0, MaxOutputTokens = 40 };
        var settings = new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["temperature"] = 0, ["max_tokens"] = 40 } };

        var client = batched.GetRequiredService<IChatClient>();
        var service = batched.GetRequiredService<IChatCompletionService>();
        var clientReplies = Questions.Select(q => client.GetResponseAsync(q, chatOptions)).ToArray();
        var serviceReplies = Questions.Select(q => service.GetChatMessageContentAsync(new ChatHistory([new(AuthorRole.User, q)]), settings)).ToArray();
        var clientTexts = (await Task.WhenAll(clientReplies)).Select(r => r.Text).ToArray();
        var serviceTexts = (await Task.WhenAll(serviceReplies)).Select(r => r.Content).ToArray();

        var aloneClient = alone.GetRequiredService<IChatClient>();
        for (int i = 0; i < Questions.Length; i++)
        {
            string expected = (await aloneClient.GetResponseAsync(Questions[i], chatOptions)).Text;
            Assert.Equal(expected, clientTexts[i]);
            Assert.Equal(expected, serviceTexts[i]);
        }

        var scheduler = model.Scheduler();
        Assert.True(scheduler.DecodedRows > scheduler.DecodeRuns, "the overlapping requests never shared a decode run");
    }

    [Fact]
    public void An_out_of_range_batch_size_fails_validation_naming_the_setting()
    {
        using var services = Services(maxBatchSize: 0);
        var ex = Assert.ThrowsAny<Exception>(() => services.GetRequiredService<OnnxGenAIModel>());
        Assert.Contains("MaxBatchSize", ex.Message, StringComparison.Ordinal);
    }
}
